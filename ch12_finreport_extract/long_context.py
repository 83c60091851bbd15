"""12.1 超长文本处理功能的ChatGLM3 — how long is a report in tokens, what 8K / 32K contexts cost, and a report section
given to the model in one prompt.

    python ch12_finreport_extract/long_context.py                                  # demo model, bundled 海翔药业 report
    python ch12_finreport_extract/long_context.py --section 合并资产负债表 合并利润表 --question "2019年的营业收入是多少元？"
    python ch12_finreport_extract/long_context.py --model models/chatglm3-6b-32k --device cuda --precision bf16

1. Token count of the whole report and of each section with the model's tokenizer (the real ChatGLM3 tokenizer
   when ``--model`` points at it; the demo tokenizer is smaller, so its counts are larger).
2. Memory for 8 K and 32 K tokens of context for the model's shape (and ChatGLM3-6B's for reference): weights at each
   precision, the KV cache (2 × layers × KV groups × head dim × tokens × bytes; ChatGLM3 keeps only 2 KV groups, so
   32 K tokens cost ~0.9 GB in bf16 — 16× less than with 32 full heads), and the attention score matrix a naive
   implementation would hold per layer (heads × tokens² × bytes: 69 GB at 32 K in bf16), which is why long context
   needs a fused attention kernel (SDPA / FlashAttention computes it block by block).
3. The chosen section (text + table rows) goes into one prompt with the question; a prompt longer than the model's
   ``seq_length`` is cut to fit and the script says so.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, UserError, arg, run
from common.paths import DATA_DIR

from ch12_finreport_extract.extract_report import DEFAULT_REPORT, load_rows
from ch12_finreport_extract.tables import SECTION_PATTERNS, find_sections, section_text

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "int8": 1, "int4": 0.5}
CONTEXTS = (8192, 32768)


def kv_cache_bytes(cfg: dict, tokens: int, bytes_per_value: float = 2) -> float:
    """K and V of every layer for ``tokens`` positions: 2 × layers × KV groups × head dim × tokens × bytes."""
    groups = cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else cfg["num_attention_heads"]
    return 2 * cfg["num_layers"] * groups * cfg["kv_channels"] * tokens * bytes_per_value


def attention_scores_bytes(cfg: dict, tokens: int, bytes_per_value: float = 2) -> float:
    """One layer's full score matrix (heads × tokens × tokens), as eager attention materialises it in prefill."""
    return cfg["num_attention_heads"] * tokens * tokens * bytes_per_value


def parameter_count(cfg: dict) -> int:
    h, ffn, layers = cfg["hidden_size"], cfg["ffn_hidden_size"], cfg["num_layers"]
    heads, kv = cfg["num_attention_heads"], cfg["kv_channels"]
    groups = cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else heads
    qkv = h * (heads * kv + 2 * groups * kv) + (heads * kv + 2 * groups * kv)
    per_layer = qkv + heads * kv * h + 2 * ffn * h + ffn * h + 2 * h
    return layers * per_layer + 2 * cfg["padded_vocab_size"] * h + h


def memory_table(cfg: dict, contexts=CONTEXTS) -> list[dict]:
    """Rows (precision, weights, KV cache and naive attention per context) in bytes. The KV cache and scores stay
    in the compute dtype: fp32 for fp32, bf16/fp16 otherwise (int8/int4 quantize only the weights)."""
    n = parameter_count(cfg)
    rows = []
    for prec, b in BYTES.items():
        act = 4 if prec == "fp32" else 2
        row = {"precision": prec, "weights": n * b}
        for t in contexts:
            row[f"kv_{t}"] = kv_cache_bytes(cfg, t, act)
            row[f"scores_{t}"] = attention_scores_bytes(cfg, t, act)
        rows.append(row)
    return rows


def _gb(x: float) -> str:
    return f"{x / 2**30:8.2f}" if x >= 2**25 else f"{x / 2**20:7.1f}M"


def print_memory(title: str, cfg: dict) -> None:
    print(f"\n{title}: {parameter_count(cfg) / 1e6:,.1f} M parameters, {cfg['num_layers']} layers, "
          f"{cfg['num_attention_heads']} heads, {cfg.get('multi_query_group_num')} KV groups × {cfg['kv_channels']}, "
          f"seq_length {cfg.get('seq_length')}, rope_ratio {cfg.get('rope_ratio', 1)}  (GiB unless marked M)")
    print(f"{'precision':<10}{'weights':>9}" + "".join(f"{'KV ' + str(t // 1024) + 'K':>10}{'scores ' + str(t // 1024) + 'K':>12}"
                                                  for t in CONTEXTS))
    for r in memory_table(cfg):
        print(f"{r['precision']:<10}{_gb(r['weights']):>9}" + "".join(f"{_gb(r[f'kv_{t}']):>10}{_gb(r[f'scores_{t}']):>12}"
                                                                       for t in CONTEXTS))


def count_tokens(tokenizer, text: str, chunk: int = 20000) -> int:
    """Tokens of ``text`` (encoded in pieces so a 1 MB report does not build one giant string call)."""
    return sum(len(tokenizer.encode(text[i: i + chunk], add_special_tokens=False)) for i in range(0, len(text), chunk))


@dataclass
class Config(ModelArgs, GenerationArgs):
    report: str = arg(str(DEFAULT_REPORT.relative_to(DATA_DIR.parent)), "an alltxt (.txt/.txt.gz) or PDF report")
    section: list[str] = arg(["员工情况"], f"the section(s) to give the model, of {list(SECTION_PATTERNS)}",
                             choices=tuple(SECTION_PATTERNS))
    question: str = arg("根据上面的年报内容，公司在职员工的数量合计是多少人？", "the question asked after the section")
    generate: bool = arg(True, "run the model on the section (--no-generate: only count and print memory)")


def main(cfg: Config) -> dict:
    from common.checkpoint import CHATGLM3_6B_CONFIG, read_config
    from common.chatglm3 import load_tokenizer
    from common.resolve import is_demo_model, resolve_model_path
    path = Path(cfg.report)
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR.parent / path
    model_dir = resolve_model_path(cfg.model)
    model_cfg = read_config(model_dir)
    tok = load_tokenizer(model_dir)
    rows = load_rows(path)
    full = "\n".join(r["inside"] for r in rows if r.get("type") in ("text", "excel"))
    t0 = time.perf_counter()
    total = count_tokens(tok, full)
    sections = find_sections(rows)
    counts = {name: count_tokens(tok, section_text(rows, s)) for name, s in sections.items()}
    print(f"{path.name}: {len(full):,} characters -> {total:,} tokens with the tokenizer of {model_dir.name} "
          f"({len(full) / max(total, 1):.2f} characters/token, counted in {time.perf_counter() - t0:.1f} s)")
    for name, n in counts.items():
        print(f"  {name:<14} {n:>8,} tokens (page {sections[name].page})")
    seq = int(model_cfg.get("seq_length", 8192))
    print(f"fits the context of {model_dir.name} ({seq:,} tokens)? whole report: {'yes' if total <= seq else 'no'}; "
          f"sections that fit: {[k for k, v in counts.items() if v <= seq]}")
    print_memory(f"this model ({model_dir.name})", model_cfg)
    print_memory("ChatGLM3-6B-32K", {**CHATGLM3_6B_CONFIG, "seq_length": 32768, "rope_ratio": 50})
    result = {"tokens": total, "section_tokens": counts, "seq_length": seq, "memory": memory_table(model_cfg)}
    if not cfg.generate:
        return result
    lost = [name for name in cfg.section if name not in sections]
    if lost:
        raise UserError(f"section {lost} not found in {path.name}; found {list(sections)}")
    passage = "\n\n".join(section_text(rows, sections[name]) for name in cfg.section)
    from common.cli import model_from_args, sampling_kwargs
    from common.chatglm3 import chat
    budget = seq - cfg.max_new_tokens - 64 - count_tokens(tok, cfg.question)
    ids = tok.encode(passage, add_special_tokens=False)
    cut = len(ids) > budget
    if cut:
        passage = tok.decode(ids[:max(budget, 0)])
        print(f"[note] the section has {len(ids):,} tokens; cut to {budget:,} to fit seq_length {seq:,} "
              "(the 32K model takes ~32,000)")
    model, tok = model_from_args(cfg)
    prompt = f"{passage}\n\n{cfg.question}"
    gen = sampling_kwargs(cfg)
    t0 = time.perf_counter()
    reply, _ = chat(model, tok, prompt, max_length=seq, **gen)
    dt = time.perf_counter() - t0
    n_prompt = len(tok.build_chat_input(prompt)["input_ids"][0])
    where = ", ".join(f"{name} p{sections[name].page}" for name in cfg.section)
    print(f"\nprompt: {n_prompt:,} tokens ({where}); answer in {dt:.1f} s:")
    print(reply)
    if is_demo_model(model_dir):
        print("[demo model] the answer is a stand-in: the tiny demo model cannot read a report; the token counts and "
              "memory table are real.")
    return {**result, "prompt_tokens": n_prompt, "cut": cut, "answer": reply, "seconds": dt}


if __name__ == "__main__":
    run(main, Config, __doc__)
