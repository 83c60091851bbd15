"""11.1.4 ChatGLM3工具调用原理 — a tool call at token level, and the probability of calling vs answering.

    python ch11_tools/token_level.py                               # demo model
    python ch11_tools/token_level.py --question "你好"              # a question that needs no tool
    python ch11_tools/token_level.py --model /path/to/chatglm3-6b

A tool call is not a special mechanism: it is an ordinary assistant message whose *metadata line* is a tool name::

    <|assistant|>get_weather\\n```python\\ntool_call(city_name='北京')\\n```<|observation|>

and a plain answer is the same message with an empty metadata line (``<|assistant|>\\n...``). So the decision
"call a tool or answer" (the 判定依据 of 11.2.3) is the model's probability of the first tokens after
``<|assistant|>``: this script prints (1) the exact ids and text of a call, (2) the top next tokens after the
prompt, (3) P(metadata line) for "" (plain text) and for each tool name, and (4) the call the model writes greedily,
token by token. It ends with ``<|observation|>``, one of the stop tokens, so generation stops and the program runs
the tool.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, UserError, arg, run


@dataclass
class Config(ModelArgs):
    question: str = arg("我下周去洛阳出差，那边天气怎么样", "the user question")
    city: str = arg("北京", "city used in the example call of part 1")
    top_k: int = arg(8, "how many next tokens to list")
    max_new_tokens: int = arg(40, "tokens to generate greedily in part 4")


def sequence_logprob(model, prompt: list[int], continuation: list[int]) -> float:
    """log P(continuation | prompt) under ``model`` (teacher forcing, one forward pass)."""
    import torch

    ids = torch.tensor([prompt + continuation], device=model.device)
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return float(sum(logp[len(prompt) - 1 + i, t] for i, t in enumerate(continuation)))


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: --question '北京天气怎么样'")
    import torch

    from ch11_tools.registry import demo_registry
    from common.cli import model_from_args
    from common.toolcall import fenced_tool_call

    model, tok = model_from_args(cfg)
    registry = demo_registry()
    system = registry.system_message()

    # 1. 一次工具调用的 token
    call_ids = tok.build_single_message("assistant", "get_weather", fenced_tool_call({"city_name": cfg.city}))
    call_ids = call_ids + [tok.get_command("<|observation|>")]
    pieces = [tok.decode([i]) for i in call_ids]
    print("1. a tool call as tokens (assistant message, metadata = tool name, ends with <|observation|>):")
    print("   ids:   ", call_ids)
    print("   pieces:", pieces)
    print("   text:  ", repr(tok.decode(call_ids)))
    text_ids = tok.build_single_message("assistant", "", "你好")
    print("   a plain answer for comparison:", text_ids, [tok.decode([i]) for i in text_ids])

    # 2. 提示词之后下一个 token 的概率分布
    prompt = tok.build_chat_ids(cfg.question, [system], role="user")
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt], device=model.device)).logits[0, -1].float()
    probs = torch.softmax(logits, -1)
    top = torch.topk(probs, cfg.top_k)
    print(f"\n2. prompt = [gMASK] sop <|system|>... <|user|> {cfg.question!r} <|assistant|>  ({len(prompt)} tokens)")
    print("   most likely next tokens:")
    top_tokens = []
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        piece = tok.convert_ids_to_tokens([i])[0] if hasattr(tok, "convert_ids_to_tokens") else tok.decode([i])
        top_tokens.append({"id": i, "piece": piece, "p": p})
        print(f"   {i:6d} {piece!r:16s} p={p:.4f}")

    # 3. 元数据行的概率：空（直接回答）vs 每个工具名（调用）
    print("\n3. P(metadata line) — the decision between answering and calling:")
    decision = {}
    for name in [""] + registry.names():
        meta_ids = tok.build_single_message("assistant", name, "")[1:]     # ▁ name <0x0A>
        lp = sequence_logprob(model, prompt, meta_ids)
        decision[name or "(plain text)"] = math.exp(lp)
        print(f"   {name or '(plain text)':14s} tokens={meta_ids} P={math.exp(lp):.4f}")
    p_tool = sum(v for k, v in decision.items() if k != "(plain text)")
    print(f"   => P(call a tool) = {p_tool:.4f}, P(plain text) = {decision['(plain text)']:.4f}")

    # 4. 贪心生成，逐个 token 显示
    stops = set(tok.stop_token_ids)
    ids = list(prompt)
    generated = []
    with torch.inference_mode():
        for _ in range(cfg.max_new_tokens):
            logits = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, -1].float()
            p = torch.softmax(logits, -1)
            nxt = int(torch.argmax(p))
            generated.append({"id": nxt, "text": tok.decode([nxt]), "p": float(p[nxt])})
            ids.append(nxt)
            if nxt in stops:
                break
    print("\n4. what the model writes (greedy), token by token:")
    print("   " + " | ".join(f"{g['id']}:{g['text']!r}({g['p']:.2f})" for g in generated))
    out_ids = [g["id"] for g in generated]
    print("   decoded:", repr(tok.decode(out_ids)))
    return {"call_ids": call_ids, "call_pieces": pieces, "prompt_len": len(prompt), "top_tokens": top_tokens,
            "decision": decision, "p_tool": p_tool, "generated": generated}


if __name__ == "__main__":
    run(main, Config, __doc__)
