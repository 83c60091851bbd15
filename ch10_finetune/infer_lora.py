"""10.3.3 微调推理：基座模型 + LoRA 适配器的多轮对话、微调前后对比、合并保存。

* ``--compare N``: greedy answers to N dev questions with the adapter switched off (``disable_adapter()``: the base
  model, no second copy in memory) and on, next to the reference; exact match / ROUGE-L for both.
* ``--query Q1 Q2 ...``: one multi-turn conversation through ``common.chatglm3.chat`` (history kept);
  ``--interactive``: the same at a prompt (``clear`` starts over, ``exit`` quits). A tool call is printed as
  ``{"name", "parameters"}`` — parsed, never executed.
* ``--merge-to DIR``: ``merge_and_unload()`` and save — ``--merge-format official`` (default) writes the official
  ChatGLM3 layout via ``common.checkpoint.save_official_checkpoint`` (loadable by every script here with
  ``--model DIR`` and by the official code), ``native`` writes transformers' ``save_pretrained`` (model_type glm).
  The merged model is reloaded and checked against base + adapter.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dataclasses import dataclass

from common.cli import GenerationArgs, ModelArgs, UserError, arg, redefault, run, sampling_kwargs
from common.paths import DATA_DIR


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    adapter: str = arg("", "LoRA adapter folder (default: outputs/ch10/lora)", group="LoRA")
    dev_file: str = arg(str(DATA_DIR / "ch10" / "customer_service" / "dev.jsonl"),
                        "JSONL with the questions for --compare", group="LoRA")
    compare: int = arg(5, "before/after on this many dev questions (0: skip)", group="LoRA")
    query: list[str] = arg([], "user messages of one multi-turn conversation (--query Q1 --query Q2, or --query Q1 Q2)",
                           group="LoRA", action="extend")
    interactive: bool = arg(False, "chat at a prompt (multi-turn)", group="LoRA")
    merge_to: str = arg("", "merge LoRA into the base weights and save the model here", group="LoRA")
    merge_format: str = arg("official", "official ChatGLM3 layout or transformers' native GLM save_pretrained",
                            choices=("official", "native"), group="LoRA")


def _default_adapter() -> Path:
    from common.paths import output_dir

    return output_dir("ch10", "lora")


def load_with_adapter(model_path, adapter, precision: str = "fp32", device: str = "cpu"):
    """``(PeftModel, tokenizer)``: the base model of ``model_path`` with the LoRA adapter in ``adapter``."""
    from peft import PeftModel

    from common.chatglm3 import load_model_and_tokenizer

    adapter = Path(adapter)
    if precision in ("int8", "int4", "nf4"):
        raise UserError("LoRA sits on floating-point base weights. To fix: --precision fp32/bf16/fp16 here, or "
                        "merge (--merge-to DIR) and load the merged model with --precision int8/int4 elsewhere")
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"no LoRA adapter in {adapter}. To fix: train one first "
                        "(python ch10_finetune/train_lora.py) or pass --adapter DIR")
    base, tok = load_model_and_tokenizer(model_path, precision=precision, device=device)
    model = PeftModel.from_pretrained(base, str(adapter))
    model.eval()
    return model, tok


def compare(model, tok, dev_file, n: int, max_new_tokens: int) -> dict:
    """Before (adapter off) / after (adapter on) on the first ``n`` dev questions."""
    from ch10_finetune.train_lora import answer_text, eval_turns, generate_answers, score

    turns = eval_turns(dev_file, n)
    refs = [t["answer"] for t in turns]
    with model.disable_adapter():
        before = generate_answers(model, tok, turns, max_new_tokens)
    after = generate_answers(model, tok, turns, max_new_tokens)
    for t, b, a in zip(turns, before, after):
        print(f"Q ({t['role']}): {t['query']}\n  reference: {answer_text(t['answer'])}\n"
              f"  base:      {answer_text(b)}\n  +LoRA:     {answer_text(a)}")
    s_before, s_after = score(before, refs), score(after, refs)
    print(f"[compare] {len(turns)} dev questions: exact match {s_before['exact_match']:.2f} -> "
          f"{s_after['exact_match']:.2f}, ROUGE-L {s_before['rouge_l']:.3f} -> {s_after['rouge_l']:.3f}")
    return {"before": s_before, "after": s_after,
            "examples": [{"query": t["query"], "reference": answer_text(t["answer"]), "before": answer_text(b),
                          "after": answer_text(a)} for t, b, a in zip(turns, before, after)]}


def merge_and_save(model, tok, out_dir, fmt: str = "official") -> dict:
    """Merge LoRA into the base weights, save, reload, and report the largest logit difference."""
    import torch

    from common.chatglm3 import load_model

    probe = tok.build_chat_input("你好")["input_ids"].to(model.device)
    with torch.no_grad():
        ref = model(input_ids=probe).logits.float().cpu()
    merged = model.merge_and_unload()
    out = Path(out_dir)
    if fmt == "official":
        from common.checkpoint import save_official_checkpoint
        save_official_checkpoint(merged, out, tokenizer=tok)
    elif fmt == "native":
        merged.save_pretrained(str(out))
        tok.save_pretrained(str(out))
    else:
        raise UserError("--merge-format must be 'official' or 'native'")
    reloaded = load_model(out, precision="fp32", device="cpu", verbose=False)
    with torch.no_grad():
        diff = (reloaded(input_ids=probe.cpu()).logits.float() - ref).abs().max().item()
    print(f"[merge] merged model ({fmt} format) saved to {out}; reloaded vs base+LoRA: max |Δlogit| = {diff:.2e}")
    return {"merged_dir": str(out), "format": fmt, "max_logit_diff": diff}


def main(cfg: Config | None = None) -> dict:
    """Compare, chat, and optionally merge; returns what was computed."""
    from common.chatglm3 import chat
    from common.cli import apply_threads

    cfg = cfg or Config()
    if cfg.cpu_kernels != "plain":
        raise UserError("LoRA wraps nn.Linear layers and switches the adapter off and on, so this script needs "
                        "--cpu-kernels plain. To fix: drop --cpu-kernels fast, or merge (--merge-to DIR) and chat "
                        "with the merged model using --cpu-kernels fast")
    apply_threads(cfg)
    gen = sampling_kwargs(cfg)
    adapter = Path(cfg.adapter) if cfg.adapter else _default_adapter()
    model, tok = load_with_adapter(cfg.model, adapter, cfg.precision, cfg.device)
    results: dict[str, Any] = {"adapter": str(adapter)}
    if cfg.compare:
        results["compare"] = compare(model, tok, cfg.dev_file, cfg.compare, cfg.max_new_tokens)
    history: list[dict] = []
    answers = []
    for q in cfg.query:
        response, history = chat(model, tok, q, history=history, **gen)
        answers.append(response)
        shown = json.dumps(response, ensure_ascii=False) if isinstance(response, dict) else response
        print(f"用户: {q}\nChatGLM3+LoRA: {shown}")
    results["answers"], results["history"] = answers, history
    if cfg.interactive:
        print("多轮对话（输入 clear 清空历史，exit 退出）")
        history = []
        while True:
            try:
                q = input("\n用户: ").strip()
            except EOFError:
                break
            if q in ("exit", "quit"):
                break
            if q == "clear":
                history = []
                continue
            if not q:
                continue
            response, history = chat(model, tok, q, history=history, **gen)
            print("ChatGLM3+LoRA:", json.dumps(response, ensure_ascii=False) if isinstance(response, dict) else response)
    if cfg.merge_to:
        results["merge"] = merge_and_save(model, tok, cfg.merge_to, cfg.merge_format)
    print(f"done: adapter {adapter}" + (f", merged into {cfg.merge_to}" if cfg.merge_to else ""))
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
