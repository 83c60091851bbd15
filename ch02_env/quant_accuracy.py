"""(benchmark) What quantization costs in accuracy: perplexity, logits and greedy answers per precision.

    python ch02_env/quant_accuracy.py                       # the demo model, fp32 as the reference
    python ch02_env/quant_accuracy.py --model /path/to/chatglm3-6b --reference bf16 --precisions int8 int4
    python ch02_env/quant_accuracy.py --text-file my.txt     # perplexity of a plain text instead of an answer

For each precision, for int8/int4 once more with the output layer quantized too (``quantize_output=True``,
opt-in in ``common.chatglm3.load_model``), and for bf16/fp16/int8/int4 once more with the fast CPU kernels
(``--cpu-kernels fast``, ``common/cpu_kernels.py``; on CPU, ``--no-fast-kernels`` leaves them out), it prints the perplexity of a text (by default the reference's own answer,
in the chat format), the logits' largest difference from
the reference (relative to the reference's largest logit) and their lowest cosine similarity over the text's
positions, and how many of the greedy answer's tokens are the same as the reference's. A fast path that changes the
numbers is judged by this table before it becomes a default.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import PRECISIONS, ModelArgs, UserError, apply_threads, arg, run  # noqa: E402

@dataclass
class Config(ModelArgs):
    reference: str = arg("fp32", "the precision the others are compared with", choices=PRECISIONS)
    precisions: list[str] = arg(["bf16", "int8", "int4"], "precisions to compare", choices=PRECISIONS)
    prompt: str = arg("你好", "prompt of the greedy answer")
    new_tokens: int = arg(32, "tokens of the greedy answer")
    text_file: str | None = arg(None, "UTF-8 text whose perplexity is measured (default: the reference's own greedy "
                                      "answer to --prompt in the chat format — text the demo model knows; plain "
                                      "text is out of its training format)")
    max_tokens: int = arg(512, "text tokens used (the demo model's context is 1,024)")
    fast_kernels: bool = arg(True, "also measure every precision with --cpu-kernels fast (CPU only)")


def greedy_answer(model, prompt_ids, new_tokens: int) -> list[int]:
    import torch
    with torch.inference_mode():
        out = model.generate(prompt_ids, max_new_tokens=new_tokens, do_sample=False, top_p=None, temperature=None,
                             top_k=None)
    return out[0, prompt_ids.shape[1]:].tolist()


def score(model, ids, first: int):
    """(logits at the scored positions, perplexity of ids[first:]) under teacher forcing."""
    import torch
    with torch.inference_mode():
        logits = model(ids).logits.float()[0, first - 1:-1]
    nll = torch.nn.functional.cross_entropy(logits, ids[0, first:])
    return logits, math.exp(nll.item())


def main(cfg: Config) -> dict:
    import torch
    from common.chatglm3 import load_model, load_tokenizer
    from common.resolve import demo_notice, resolve_model_path

    apply_threads(cfg)
    model_dir = resolve_model_path(cfg.model)
    if notice := demo_notice(model_dir):
        print(notice, file=sys.stderr)
    tok = load_tokenizer(model_dir)
    prompt_ids = tok.build_chat_input(cfg.prompt)["input_ids"]
    reference = load_model(model_dir, cfg.reference, cfg.device, verbose=False)
    ref_answer = greedy_answer(reference, prompt_ids, cfg.new_tokens)
    if cfg.text_file:
        path = Path(cfg.text_file)
        if not path.is_file():
            raise UserError(f"--text-file {cfg.text_file} not found. To fix: pass a UTF-8 text file.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise UserError(f"--text-file {cfg.text_file} is not UTF-8 ({err.reason}). To fix: convert it, e.g. "
                            "`iconv -f GBK -t UTF-8`.") from None
        ids, first, what = torch.tensor([tok.encode(text)[:cfg.max_tokens]]), 1, path.name
    else:
        ids = torch.cat([prompt_ids, torch.tensor([ref_answer])], dim=1)
        first, what = prompt_ids.shape[1], f"the {cfg.reference} answer to {cfg.prompt!r}"
    ref_logits, ref_ppl = score(reference, ids, first)
    del reference
    from common.choices import FAST_PRECISIONS
    on_cpu = cfg.device in ("cpu", "auto") and not torch.cuda.is_available()
    variants = [(p, False, "plain") for p in cfg.precisions]
    variants += [(p, True, "plain") for p in cfg.precisions if p in ("int8", "int4") and on_cpu]
    variants += [(p, False, "fast") for p in cfg.precisions if p in FAST_PRECISIONS and on_cpu and cfg.fast_kernels]
    print(f"model {model_dir}; perplexity of {what} ({ids.shape[1] - first} tokens scored); reference "
          f"{cfg.reference}; greedy answer to {cfg.prompt!r}, {cfg.new_tokens} tokens")
    head = f"{'precision':<22} {'perplexity':>10} {'max |diff| / max':>16} {'min cosine':>10} {'same greedy ids':>15}"
    print(head)
    print("-" * len(head))
    print(f"{cfg.reference + ' (reference)':<22} {ref_ppl:10.3f} {'-':>16} {'-':>10} {'-':>15}")
    rows = []
    for precision, quantize_output, kernels in variants:
        model = load_model(model_dir, precision, cfg.device, verbose=False, quantize_output=quantize_output,
                           kernels=kernels)
        logits, ppl = score(model, ids, first)
        answer = greedy_answer(model, prompt_ids, cfg.new_tokens)
        del model
        rel = ((logits - ref_logits).abs().max() / ref_logits.abs().max()).item()
        cos = torch.nn.functional.cosine_similarity(logits, ref_logits, dim=-1).min().item()
        same = sum(a == b for a, b in zip(answer, ref_answer))
        name = precision + (" + output layer" if quantize_output else "") + (" fast kernels" if kernels == "fast"
                                                                             else "")
        print(f"{name:<22} {ppl:10.3f} {rel:16.4f} {cos:10.5f} {f'{same}/{len(ref_answer)}':>15}")
        rows.append({"precision": precision, "quantize_output": quantize_output, "kernels": kernels, "perplexity": ppl,
                     "max_rel_diff": rel, "min_cosine": cos, "same_greedy": same, "answer_len": len(ref_answer)})
    return {"reference": {"precision": cfg.reference, "perplexity": ref_ppl}, "rows": rows}


if __name__ == "__main__":
    run(main, Config, __doc__)
