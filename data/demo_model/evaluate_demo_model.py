"""Evaluate the built-in demo model on held-out prompts (unseen cities, stock codes and phrasings).

    python data/demo_model/evaluate_demo_model.py                 # the committed demo model
    python data/demo_model/evaluate_demo_model.py --model DIR     # any ChatGLM3-format model (also the real 6B)

Everything goes through ``common.chatglm3.chat`` with greedy decoding (``do_sample=False``), exactly as a chapter
script would call the model. Prints four numbers:

* tool-call exact match — the reply is ``{"name": ..., "parameters": {...}}`` equal to the expected call
  (the argument copied character for character from the question);
* observation answers — after the tool result comes back (``role="observation"``), the reply is text that
  mentions the result's key values (temperature and weather, or the price);
* FAQ — the reply to a held-out wording of a book/repo question equals the expected answer;
* average reply length in tokens, and the share of replies that stopped on a stop token (eos, ``<|user|>``,
  ``<|observation|>``) before ``--max-new-tokens``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common.cli import ModelArgs, arg, run  # noqa: E402


@dataclass
class Config(ModelArgs):
    max_new_tokens: int = arg(96, "generation limit per reply")
    limit: int = arg(0, "evaluate only the first N cases of each kind (0 = all)")
    show_failures: int = arg(10, "print up to N failed cases")


def tool_call_results(model, tok, cases: list[dict], generate=None, **gen) -> tuple[int, list[dict]]:
    """The held-out tool questions through ``chat()`` with the tool system prompt: ``(exact calls, failures)``.
    ``generate(query, history) -> response`` replaces the plain ``chat`` call (the script counts reply lengths)."""
    from common.chatglm3 import chat
    from common.prompts import TOOL_SYSTEM_PROMPT

    ok, failures = 0, []
    for c in cases:
        hist = [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": c["tools"]}]
        resp = generate(c["query"], hist) if generate else chat(model, tok, c["query"], history=hist, **gen)[0]
        want = {"name": c["name"], "parameters": c["parameters"]}
        hit = isinstance(resp, dict) and resp.get("name") == want["name"] and resp.get("parameters") == want["parameters"]
        ok += hit
        if not hit:
            failures.append({"kind": "tool", "query": c["query"], "want": want, "got": resp})
    return ok, failures


def _reply_tokens(tok, history: list[dict], start: int) -> int:
    """Tokens the model generated for the assistant messages appended after ``history[:start]`` (stop excluded)."""
    n = 0
    for item in history[start:]:
        if item.get("role") == "assistant":
            content = item["content"] if isinstance(item["content"], str) else json.dumps(item["content"])
            n += len(tok.build_single_message("assistant", item.get("metadata", ""), content)) - 1
    return n


def main(cfg: Config | None = None) -> dict:
    """Run the held-out evaluation; return the rates, the average length and the failures."""
    from common.chatglm3 import chat, load_model, load_tokenizer
    from common.prompts import TOOL_SYSTEM_PROMPT
    from dialogues import make_eval_cases

    from common.cli import apply_threads

    cfg = cfg or Config()
    apply_threads(cfg)
    tok = load_tokenizer(cfg.model)
    model = load_model(cfg.model, precision=cfg.precision, device=cfg.device)
    cases = make_eval_cases()
    if cfg.limit:
        cases = {k: v[:cfg.limit] for k, v in cases.items()}
    gen = {"do_sample": False, "max_new_tokens": cfg.max_new_tokens}
    lengths, stopped, failures = [], 0, []
    t0 = time.time()

    def ask(query, history, role="user"):
        nonlocal stopped
        start = len(history)
        response, new_history = chat(model, tok, query, history=[dict(h) for h in history], role=role, **gen)
        n = _reply_tokens(tok, new_history, start + 1)
        lengths.append(n)
        stopped += int(n < cfg.max_new_tokens)
        return response

    tool_ok, tool_failures = tool_call_results(model, tok, cases["tool"], generate=ask)
    failures += tool_failures

    obs_ok = 0
    for c in cases["observation"]:
        key, value = next(iter(c["parameters"].items()))
        call = f"```python\ntool_call({key}={value!r})\n```"
        hist = [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": c["tools"]},
                {"role": "user", "content": c["query"]},
                {"role": "assistant", "metadata": c["name"], "content": call}]
        resp = ask(c["observation"], hist, role="observation")
        ok = isinstance(resp, str) and all(v in resp for v in c["must_mention"])
        obs_ok += ok
        if not ok:
            failures.append({"kind": "observation", "observation": c["observation"], "got": resp})

    faq_ok = 0
    for c in cases["faq"]:
        resp = ask(c["query"], [])
        ok = isinstance(resp, str) and resp.strip() == c["answer"]
        faq_ok += ok
        if not ok:
            failures.append({"kind": "faq", "query": c["query"], "want": c["answer"], "got": resp})

    results = {
        "tool_call_exact_match": tool_ok / max(1, len(cases["tool"])),
        "observation_answer_rate": obs_ok / max(1, len(cases["observation"])),
        "faq_rate": faq_ok / max(1, len(cases["faq"])),
        "avg_reply_tokens": sum(lengths) / max(1, len(lengths)),
        "stopped_rate": stopped / max(1, len(lengths)),
        "n": {k: len(v) for k, v in cases.items()},
        "seconds": round(time.time() - t0, 1),
        "failures": failures,
    }
    if cfg.show_failures:
        for f in failures[:cfg.show_failures]:
            print("FAIL", json.dumps(f, ensure_ascii=False))
    print(f"tool-call exact match {tool_ok}/{len(cases['tool'])} = {results['tool_call_exact_match']:.1%} | "
          f"observation answers {obs_ok}/{len(cases['observation'])} = {results['observation_answer_rate']:.1%} | "
          f"FAQ {faq_ok}/{len(cases['faq'])} = {results['faq_rate']:.1%} | "
          f"avg reply {results['avg_reply_tokens']:.1f} tokens | stopped {results['stopped_rate']:.1%} | "
          f"{results['seconds']} s")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
