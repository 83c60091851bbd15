"""9.2.2 文本生成 — KV-cached generation for the from-scratch GLM: greedy, temperature, top-k, top-p, repetition penalty.

One step of generation turns the last position's logits into the next token:
    repetition penalty  ->  temperature  ->  top-k  ->  top-p  ->  argmax (greedy) or sample
(the same order and semantics as ``transformers``' logits processors, so the same settings mean the same thing
as in ``model.generate`` / ``common.chatglm3.chat``). With ``use_cache=True`` the prompt is run once ("prefill")
and every later step feeds only the newest token plus the cached keys/values; the tokens are identical to
re-running the whole sequence each step, only faster.

Run (after train.py):  python ch09_glm_from_scratch/generate.py --prompt 床前明月光， 春眠不觉晓，
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg


def apply_repetition_penalty(logits: torch.Tensor, seen_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already in ``seen_ids`` less likely: positive logits / penalty, negative × penalty."""
    if penalty == 1.0:
        return logits
    seen = logits.gather(-1, seen_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(-1, seen_ids, seen)


def apply_top_k(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the ``top_k`` largest logits (0 = keep all)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def apply_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus sampling: keep the most likely tokens until their probabilities add up to ``top_p``."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs          # 排在它前面的 token 已经占了多少概率
    remove_sorted = mass_before >= top_p
    remove_sorted[..., 0] = False                        # 至少留下最可能的一个
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def next_token(logits: torch.Tensor, seen_ids: torch.Tensor, do_sample: bool = False, temperature: float = 1.0,
               top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """``logits [b, vocab]`` of the last position -> next token ids ``[b]``."""
    logits = apply_repetition_penalty(logits.float(), seen_ids, repetition_penalty)
    if not do_sample:
        return logits.argmax(dim=-1)
    logits = apply_top_p(apply_top_k(logits / max(temperature, 1e-5), top_k), top_p)
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def stream_generate(model, input_ids: torch.Tensor, max_new_tokens: int = 64, do_sample: bool = False,
                    temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
                    eos_token_id: int | Sequence[int] | None = None, use_cache: bool = True,
                    generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield the next token ids ``[b]`` one step at a time (stops when every row has produced an eos id)."""
    eos = torch.tensor([] if eos_token_id is None else
                       [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id),
                       device=input_ids.device)
    ids, cache = input_ids, None
    finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        if use_cache:  # 第一步送入整个提示（prefill），之后每步只送最新的一个 token
            step_input = ids if cache is None else ids[:, -1:]
            out = model(step_input, past_key_values=cache, use_cache=True, return_last_logit=True)
            cache = out.past_key_values
        else:          # 不用缓存：每一步都把整段序列重算一遍
            out = model(ids, return_last_logit=True)
        token = next_token(out.logits[:, -1], ids, do_sample, temperature, top_k, top_p, repetition_penalty,
                           generator)
        if len(eos):   # 已结束的行继续填 eos，保持张量对齐
            token = torch.where(finished, eos[0], token)
            finished |= torch.isin(token, eos)
        ids = torch.cat((ids, token[:, None]), dim=1)
        yield token
        if finished.all():
            break


def generate(model, input_ids: torch.Tensor, max_new_tokens: int = 64, **kwargs) -> torch.Tensor:
    """Prompt + generated ids ``[b, prompt_len + new]``; keyword arguments as in ``stream_generate``."""
    new = list(stream_generate(model, input_ids, max_new_tokens, **kwargs))
    return torch.cat([input_ids] + [t[:, None] for t in new], dim=1)


def compare_kv_cache(model, input_ids: torch.Tensor, max_new_tokens: int) -> dict:
    """Greedy generation with and without the KV cache: the same tokens, the cached one faster (seconds)."""
    import time

    generate(model, input_ids, max_new_tokens=2)  # 预热：第一次调用有一次性开销，不计时
    seconds, outputs = {}, {}
    for use_cache in (True, False):
        t0 = time.perf_counter()
        outputs[use_cache] = generate(model, input_ids, max_new_tokens=max_new_tokens, use_cache=use_cache)
        seconds[use_cache] = time.perf_counter() - t0
    return {"with_cache_s": seconds[True], "without_cache_s": seconds[False],
            "identical": torch.equal(outputs[True], outputs[False])}


@dataclass
class GenerateConfig:
    checkpoint: str = arg("", "checkpoint written by train.py (default: outputs/ch09/train/checkpoint.pt)")
    # 以逗号结尾的半句诗：语料里每首诗都以《题目》开头，只给"床前明月光"时小模型会把它当成题目，接一个"》"就结束
    prompt: list = arg(["床前明月光，", "春眠不觉晓，", "大江东去，"], "prompts, one generation each (end a half line "
                                                                "with '，' so the model continues the verse)")
    max_new_tokens: int = arg(64, "characters/tokens to generate per prompt")
    do_sample: bool = arg(True, "sample (False = greedy)")
    temperature: float = arg(0.8, "divide logits by this before sampling (lower = safer)")
    top_k: int = arg(50, "sample among the k most likely tokens (0 = all)")
    top_p: float = arg(0.9, "nucleus sampling mass (1.0 = off)")
    repetition_penalty: float = arg(1.1, "> 1 discourages repeating tokens already in the text")
    use_cache: bool = arg(True, "use the KV cache")
    seed: int = arg(0, "sampling seed")
    device: str = arg("cpu", "cpu | cuda")


def main(cfg: GenerateConfig | None = None) -> dict:
    """Load a train.py checkpoint and write one continuation per prompt."""
    from ch09_glm_from_scratch.model import default_checkpoint, load_trained

    cfg = cfg or GenerateConfig()
    model, tokenizer = load_trained(cfg.checkpoint or default_checkpoint(), device=cfg.device)
    n_params = sum(p.numel() for p in model.parameters())
    if n_params < 20_000_000:
        print(f"[small model] {n_params / 1e6:.1f} M parameters trained for minutes: expect text with the corpus's "
              "shape (a line of verse, a '-- 作者《题目》' signature), not good poems")
    generator = torch.Generator(device=cfg.device).manual_seed(cfg.seed)
    texts = []
    for prompt in cfg.prompt:
        ids = torch.tensor([tokenizer.encode(prompt)], device=cfg.device)
        out = generate(model, ids, cfg.max_new_tokens, do_sample=cfg.do_sample, temperature=cfg.temperature,
                       top_k=cfg.top_k, top_p=cfg.top_p, repetition_penalty=cfg.repetition_penalty,
                       eos_token_id=tokenizer.eos_id, use_cache=cfg.use_cache, generator=generator)
        texts.append(tokenizer.decode(out[0].tolist()))
        print(f"--- {prompt}\n{texts[-1]}")
    ids = torch.tensor([tokenizer.encode(cfg.prompt[0])], device=cfg.device)
    cache = compare_kv_cache(model, ids, cfg.max_new_tokens)
    print(f"greedy generation of {cfg.max_new_tokens} tokens: with KV cache {cache['with_cache_s']:.3f} s, "
          f"without {cache['without_cache_s']:.3f} s; identical tokens: {cache['identical']}")
    return {"texts": texts, "kv_cache": cache}


if __name__ == "__main__":
    from common.cli import run

    run(main, GenerateConfig, __doc__)
