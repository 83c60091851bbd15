"""Benchmark: does the model pick the right tool, with exactly the right arguments, and answer from the result?

    python ch11_tools/bench_tools.py                          # demo model, all 70 held-out questions
    python ch11_tools/bench_tools.py --limit 10               # a quick look
    python ch11_tools/bench_tools.py --groups beauty --router # the beauty assistant's keyword router instead
    python ch11_tools/bench_tools.py --model /path/to/chatglm3-6b --device cuda --precision fp16
    python ch11_tools/bench_tools.py --base-url http://127.0.0.1:8000/v1
    python ch11_tools/bench_tools.py --write-cases            # rebuild data/ch11/bench_tools.jsonl

The questions (``data/ch11/bench_tools.jsonl``): weather questions about cities and stock questions about codes
that the demo model's build holds out (``data/demo_model/slots.py``: never in its training data, and not the ones
its own evaluation uses), asked in wordings that neither its training templates nor its held-out templates contain
(a test checks this); beauty questions for the four 11.3 tools; and questions that need no tool. Each question runs
through the agent loop (``Agent``, greedy, at most ``--max-steps`` calls) with the tools of its group offered:
get_weather/track, or the beauty tools. Per group the table shows: right tool (or rightly none), arguments exactly
right (JSON equal, defaults ignored), answer consistent with the observation (its key values appear in the
answer), tool steps per question and seconds per question. Results go to ``outputs/ch11/bench_tools.json``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run
from common.paths import DATA_DIR, REPO_ROOT

CASES_FILE = DATA_DIR / "ch11" / "bench_tools.jsonl"

# 新问法：既不在演示模型的训练问法里，也不在它的评测问法里（tests/test_ch11_bench.py 检查）
WEATHER_WORDINGS = [
    "{x}今儿个天气咋样啊", "出门前想确认下{x}的天气", "{x}现在外面冷吗，要穿外套吗", "周末打算去{x}爬山，天气行不行",
    "能不能播报下{x}此刻的气象", "{x}此刻气温几度", "What's it like outside in {x} right now",
    "请帮忙看一下{x}那儿的天气", "{x}的天空今天晴朗吗", "我在{x}，外面下没下雨", "查询一下{x}的气象情况",
    "{x}那里气候现在怎样",
]
STOCK_WORDINGS = [
    "{x}这票现在啥价", "想知道{x}的盘中报价", "{x}今天行情咋样了", "帮忙瞅瞅{x}的股价", "{x}眼下每股多少钱",
    "Give me the current quote for {x}", "{x}的价格更新一下", "请报一下{x}最新成交价", "{x}现价几何",
    "看一眼{x}的股票价格",
]
BEAUTY_CASES = [
    ("帮我找油性皮肤能用的洁面，价格不超过150元", "search_products",
     {"category": "洁面", "skin_type": "油性", "max_price": 150}),
    ("干性皮肤适合什么面霜？", "search_products", {"category": "面霜", "skin_type": "干性"}),
    ("敏感肌能用的防晒有哪些", "search_products", {"category": "防晒", "skin_type": "敏感性"}),
    ("有没有300元以内的精华", "search_products", {"category": "精华", "max_price": 300}),
    ("推荐几款祛痘的精华", "search_products", {"category": "精华", "concern": "祛痘"}),
    ("含烟酰胺的产品有哪些", "search_products", {"ingredient": "烟酰胺"}),
    ("混合性皮肤用什么化妆水好，100元以内", "search_products",
     {"category": "化妆水", "skin_type": "混合性", "max_price": 100}),
    ("想买一款美白的精华，预算200", "search_products", {"category": "精华", "concern": "美白", "max_price": 200}),
    ("初禾温和卸妆油适合什么肤质", "product_detail", {"name": "初禾温和卸妆油"}),
    ("介绍一下森屿神经酰胺修护霜", "product_detail", {"name": "森屿神经酰胺修护霜"}),
    ("若溪积雪草修护精华多少钱", "product_detail", {"name": "若溪积雪草修护精华"}),
    ("暖阳社深层净化皂基洁面含什么成分", "product_detail", {"name": "暖阳社深层净化皂基洁面"}),
    ("视黄醇和水杨酸可以一起用吗", "check_ingredient_conflicts", {"products": ["视黄醇", "水杨酸"]}),
    ("维生素C和过氧化苯甲酰能叠加吗", "check_ingredient_conflicts", {"products": ["维生素C", "过氧化苯甲酰"]}),
    ("玻尿酸和神经酰胺能同时用吗", "check_ingredient_conflicts", {"products": ["玻尿酸", "神经酰胺"]}),
    ("果酸和水杨酸会冲突吗", "check_ingredient_conflicts", {"products": ["果酸", "水杨酸"]}),
    ("我是油皮，想控油，预算400元，帮我配一套护肤流程", "build_routine",
     {"skin_type": "油性", "concerns": ["控油"], "budget": 400}),
    ("干皮想抗老，预算1000元，早晚怎么护肤", "build_routine",
     {"skin_type": "干性", "concerns": ["抗老"], "budget": 1000}),
    ("敏感肌需要舒缓，给我一个护肤方案，预算500元", "build_routine",
     {"skin_type": "敏感性", "concerns": ["舒缓"], "budget": 500}),
    ("中性皮肤想美白，预算800元，帮我搭一套早晚流程", "build_routine",
     {"skin_type": "中性", "concerns": ["美白"], "budget": 800}),
]
NO_TOOL = ["今天心情不错，陪我聊两句", "谢谢你帮了大忙", "你是哪家公司做出来的", "讲个简短的笑话吧",
           "早上好，最近怎么样", "ChatGLM3 能在笔记本上跑吗"]


def make_cases() -> list[dict]:
    """The benchmark questions, deterministic: held-out cities/codes the demo model's own evaluation does not use."""
    sys.path.insert(0, str(REPO_ROOT / "data" / "demo_model"))
    from slots import heldout_codes, split_cities  # noqa: E402 - the demo build's held-out lists

    cities = split_cities()[1][40:64]
    codes = heldout_codes()[30:50]
    cases = []
    for i, city in enumerate(cities):
        cases.append({"group": "weather", "question": WEATHER_WORDINGS[i % len(WEATHER_WORDINGS)].format(x=city),
                      "tool": "get_weather", "arguments": {"city_name": city}})
    for i, code in enumerate(codes):
        cases.append({"group": "stock", "question": STOCK_WORDINGS[i % len(STOCK_WORDINGS)].format(x=code),
                      "tool": "track", "arguments": {"symbol": code}})
    for question, tool, args in BEAUTY_CASES:
        cases.append({"group": "beauty", "question": question, "tool": tool, "arguments": args})
    for question in NO_TOOL:
        cases.append({"group": "no_tool", "question": question, "tool": None, "arguments": None})
    return cases


def write_cases(path: Path = CASES_FILE) -> int:
    text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in make_cases())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def load_cases(path: Path = CASES_FILE) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _norm(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def arguments_exact(registry, tool: str, got: dict, expected: dict) -> bool:
    """Equal as JSON after dropping arguments that only repeat the tool's default; list order matters only for
    non-product lists (``products`` compared as a set)."""
    t = registry.get(tool)
    props = t.parameters.get("properties", {}) if t else {}
    got = {k: v for k, v in (got or {}).items() if not ("default" in props.get(k, {}) and
                                                        _norm(props[k]["default"]) == _norm(v) and k not in expected)}
    got, expected = _norm(got), _norm(expected)
    if tool == "check_ingredient_conflicts" and isinstance(got.get("products"), list):
        return set(got["products"]) == set(expected["products"]) and set(got) == set(expected)
    return got == expected


def key_values(tool: str, value) -> list[list[str]]:
    """Groups of strings an answer must contain (one of each group) to count as consistent with ``value``."""
    if not isinstance(value, dict):
        return [[str(value)]]
    if tool == "get_weather":
        return [[value["temperature"].rstrip("℃")], [value["weather"]]]
    if tool == "track":
        return [[str(value["price"])]]
    if tool == "search_products":
        return [[p["name"] for p in value["products"]] or ["没有"]]
    if tool == "product_detail":
        return [[value["name"]]] if value.get("found") else [["没有"]]
    if tool == "check_ingredient_conflicts":
        return [[value["verdict"], "冲突", "不建议", "可以"]]
    if tool == "build_routine":
        return [[s["name"] for s in value["morning"] + value["evening"]] or ["预算"]]
    return []


def consistent(answer: str, tool: str, value) -> bool:
    return bool(answer) and all(any(s and s in answer for s in group) for group in key_values(tool, value))


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    limit: int = arg(0, "run only the first N questions of each group (0 = all)")
    groups: list[str] = arg(["weather", "stock", "beauty", "no_tool"], "which question groups to run")
    max_steps: int = arg(3, "tool calls allowed per question")
    router: bool = arg(False, "answer the beauty questions with the beauty assistant's keyword router (what the demo "
                              "model's assistant does) instead of the model's own tool choice")
    write_cases: bool = arg(False, "rebuild data/ch11/bench_tools.jsonl from the held-out lists and exit")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)


def main(cfg: Config) -> dict:
    if cfg.write_cases:
        size = write_cases()
        print(f"wrote {len(make_cases())} cases to {CASES_FILE.relative_to(REPO_ROOT)} ({size / 1024:.1f} KiB)")
        return {"cases": len(make_cases()), "bytes": size}
    if cfg.limit < 0:
        raise UserError("--limit must be >= 0")
    from ch11_tools.agent import Agent, backend_from_args
    from ch11_tools.beauty import BEAUTY_SYSTEM, beauty_registry
    from ch11_tools.registry import demo_registry
    from common.paths import output_dir
    from common.resolve import is_demo_model, resolve_model_path

    unknown = set(cfg.groups) - {"weather", "stock", "beauty", "no_tool"}
    if unknown:
        raise UserError(f"unknown --groups {sorted(unknown)}. To fix: pick from weather stock beauty no_tool")
    cases = [c for c in load_cases() if c["group"] in cfg.groups]
    if cfg.limit:
        seen: dict[str, int] = {}
        cases = [c for c in cases if seen.setdefault(c["group"], 0) < cfg.limit and not
                 seen.__setitem__(c["group"], seen[c["group"]] + 1)]
    backend = backend_from_args(cfg)
    registries = {"demo": demo_registry(), "beauty": beauty_registry()}
    rows = []
    for i, case in enumerate(cases, 1):
        reg = registries["beauty" if case["group"] == "beauty" else "demo"]
        if case["group"] == "beauty" and cfg.router:
            from ch11_tools.beauty_assistant import BeautyAssistant
            agent = BeautyAssistant(backend, router=True, max_steps=cfg.max_steps, registry=reg)
        else:
            agent = Agent(backend, reg, max_steps=cfg.max_steps,
                          system=BEAUTY_SYSTEM if case["group"] == "beauty" else None)
        t0 = time.perf_counter()
        result = agent.run(case["question"])
        seconds = time.perf_counter() - t0
        first = result.trace[0] if result.trace else None
        tool_ok = (first is None) if case["tool"] is None else (first is not None and first.name == case["tool"])
        args_ok = bool(case["tool"]) and tool_ok and arguments_exact(reg, case["tool"], first.arguments,
                                                                      case["arguments"])
        answer_ok = None
        if case["tool"] and first is not None and first.ok:
            value = json.loads(first.observation) if first.observation.startswith(("{", "[")) else first.observation
            answer_ok = consistent(result.answer, first.name, value)
        elif case["tool"] is None:
            answer_ok = bool(result.answer.strip()) and not result.trace
        rows.append({**case, "called": first.name if first else None, "called_arguments": first.arguments if first
                     else None, "tool_ok": tool_ok, "args_ok": args_ok, "answer_ok": bool(answer_ok),
                     "steps": result.steps, "seconds": round(seconds, 3), "answer": result.answer[:300]})
        print(f"[{i:3d}/{len(cases)}] {case['group']:8s} tool {'✓' if tool_ok else '✗'} args "
              f"{'✓' if args_ok else '✗'} answer {'✓' if answer_ok else '✗'} {seconds:5.2f}s  {case['question']}",
              flush=True)
    table = summarize(rows)
    print_table(table)
    out = output_dir("ch11") / "bench_tools.json"
    out.write_text(json.dumps({"rows": rows, "table": table}, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"details: {out.relative_to(out.parents[2]) if len(out.parents) > 2 else out}")
    if not cfg.base_url and is_demo_model(resolve_model_path(cfg.model)):
        print("[demo model] trained on get_weather/track only, one call per question: the beauty and no-tool rows "
              "show what an untrained tool looks like to a model; run with --model for ChatGLM3-6B's numbers.")
    return {"rows": rows, "table": table}


def summarize(rows: list[dict]) -> dict:
    groups = sorted({r["group"] for r in rows}, key=["weather", "stock", "beauty", "no_tool"].index)
    table = {}
    for g in groups + ["all"]:
        rs = [r for r in rows if g == "all" or r["group"] == g]
        with_tool = [r for r in rs if r["tool"]]
        table[g] = {"n": len(rs), "right_tool": sum(r["tool_ok"] for r in rs) / len(rs),
                    "args_exact": (sum(r["args_ok"] for r in with_tool) / len(with_tool)) if with_tool else None,
                    "answer_consistent": sum(r["answer_ok"] for r in rs) / len(rs),
                    "steps": sum(r["steps"] for r in rs) / len(rs),
                    "seconds": sum(r["seconds"] for r in rs) / len(rs)}
    return table


def print_table(table: dict) -> None:
    print(f"\n{'group':10s} {'n':>4s} {'right tool':>10s} {'args exact':>10s} {'answer ok':>10s} "
          f"{'steps/q':>8s} {'s/q':>6s}")
    for g, t in table.items():
        args = "-" if t["args_exact"] is None else f"{t['args_exact']:.0%}"
        print(f"{g:10s} {t['n']:4d} {t['right_tool']:10.0%} {args:>10s} {t['answer_consistent']:10.0%} "
              f"{t['steps']:8.2f} {t['seconds']:6.2f}")


if __name__ == "__main__":
    run(main, Config, __doc__)
