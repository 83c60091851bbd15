"""4.3 knowledge-graph helpers: paragraphs + gold triples, robust parsing of the model's JSON, scoring, the
``networkx`` graph (GraphML / JSON / PNG with Chinese labels), entity linking and sub-graph facts.

The model's output is *parsed* (``json.loads`` after textual repairs), never executed. A reply that cannot be
repaired is retried once with the parser's error in the prompt, then skipped and reported.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from common.cli import UserError
from common.paths import DATA_DIR

PARAGRAPHS_PATH = DATA_DIR / "ch04" / "kg_paragraphs.jsonl"
MAX_REPLY_CHARS = 20_000
# 常见的三元组字段名写法（模型不一定严格按提示词的 head/relation/tail）
_KEYS = (("head", "relation", "tail"), ("subject", "predicate", "object"), ("头实体", "关系", "尾实体"),
         ("h", "r", "t"), ("source", "relation", "target"))


class TripleParseError(ValueError):
    """Model output that is not (and cannot be repaired into) a JSON array of triples."""


# ============================================================================================== data
def load_paragraphs(path: str | Path | None = None) -> list[dict]:
    """``[{id, text, triples (gold, may be empty)}]`` from JSONL (``text`` + optional ``triples``) or plain text
    (paragraphs separated by blank lines)."""
    p = Path(path) if path else PARAGRAPHS_PATH
    if not p.is_file():
        raise UserError(f"{p} does not exist. To fix: --paragraphs a .txt (blank-line separated paragraphs) or "
                        ".jsonl ({\"text\": ..., \"triples\": [[h, r, t], ...]}) file.")
    text = p.read_text(encoding="utf-8")
    out: list[dict] = []
    if p.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{p}:{n} is not JSON ({exc.msg}).") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise UserError(f"{p}:{n} needs a \"text\" string.")
            out.append({"id": row.get("id", len(out) + 1), "text": row["text"],
                        "triples": [tuple(t) for t in row.get("triples", []) if len(t) == 3]})
    else:
        for block in re.split(r"\n\s*\n", text):
            if block.strip():
                out.append({"id": len(out) + 1, "text": " ".join(block.split()), "triples": []})
    if not out:
        raise UserError(f"{p} contains no paragraphs.")
    return out


# ============================================================================================== parsing
def _close_brackets(s: str) -> str:
    """Append the ``]``/``}`` a truncated reply is missing (strings are respected)."""
    stack, in_str, esc = [], False, False
    for ch in s:
        if in_str:
            esc = (ch == "\\") and not esc
            if ch == '"' and not esc:
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    if in_str:
        s += '"'
    return s + "".join(reversed(stack))


def repair_json(text: str) -> str:
    """Textual repairs of what chat models typically get wrong: code fences, prose around the array, Chinese
    quotes and punctuation, single quotes, trailing commas, a missing closing bracket, objects without ``[]``."""
    s = text.strip()
    fence = re.search(r"```(?:json|JSON)?\s*(.*?)(```|$)", s, re.S)
    if fence:
        s = fence.group(1).strip()
    s = (s.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'").replace("，", ",")
         .replace("：", ":").replace("【", "[").replace("】", "]"))
    start = min([i for i in (s.find("["), s.find("{")) if i >= 0], default=-1)
    if start < 0:
        return s
    s = s[start:]
    end = max(s.rfind("]"), s.rfind("}"))
    if end >= 0 and _close_brackets(s[:end + 1]) == s[:end + 1]:
        s = s[:end + 1]
    if '"' not in s and "'" in s:
        s = s.replace("'", '"')
    s = re.sub(r",\s*([\]}])", r"\1", s)
    s = _close_brackets(s)
    if s.startswith("{") and re.search(r"}\s*,?\s*{", s):  # several objects without the array around them
        s = "[" + re.sub(r"}\s*,?\s*{", "},{", s) + "]"
    return s


def _triple(item: Any) -> tuple[str, str, str] | None:
    if isinstance(item, dict):
        for keys in _KEYS:
            if all(k in item for k in keys):
                vals = [item[k] for k in keys]
                break
        else:
            return None
    elif isinstance(item, (list, tuple)) and len(item) == 3:
        vals = list(item)
    else:
        return None
    if not all(isinstance(v, (str, int, float)) and str(v).strip() for v in vals):
        return None
    return tuple(str(v).strip() for v in vals)  # type: ignore[return-value]


def parse_triples(text: str) -> tuple[list[tuple[str, str, str]], int]:
    """``(triples, n_bad_items)`` from a model reply; :class:`TripleParseError` if no JSON array can be read."""
    if not isinstance(text, str) or not text.strip():
        raise TripleParseError("empty reply")
    if len(text) > MAX_REPLY_CHARS:
        raise TripleParseError(f"reply longer than {MAX_REPLY_CHARS} characters")
    repaired = repair_json(text)
    try:
        data = json.loads(repaired)
    except json.JSONDecodeError as exc:
        raise TripleParseError(f"not JSON even after repair: {exc.msg} at position {exc.pos}") from None
    if isinstance(data, dict):
        data = data.get("triples", [data])
    if not isinstance(data, list):
        raise TripleParseError(f"expected a JSON array, got {type(data).__name__}")
    if data and len(data) == 3 and all(isinstance(x, str) for x in data):
        data = [data]  # one bare triple
    triples, bad = [], 0
    for item in data:
        t = _triple(item)
        if t is None:
            bad += 1
        elif t not in triples:
            triples.append(t)
    if data and not triples:
        raise TripleParseError(f"none of the {len(data)} items is a (head, relation, tail) triple")
    return triples, bad


@dataclass
class Extraction:
    paragraph_id: Any
    triples: list[tuple[str, str, str]] = field(default_factory=list)
    attempts: int = 0
    bad_items: int = 0
    error: str | None = None            # set when the paragraph was skipped
    replies: list[str] = field(default_factory=list)


def extract_triples(ask: Callable[[str], str], paragraph: dict, extract_template: str, repair_template: str,
                    retries: int = 1) -> Extraction:
    """Ask for triples; on a parse error ask again with the error and the bad reply (``retries`` times), then
    skip the paragraph and say why. ``ask`` is any prompt -> text function (an LLM endpoint's ``invoke``)."""
    rec = Extraction(paragraph["id"])
    prompt = extract_template.format(paragraph=paragraph["text"])
    for attempt in range(retries + 1):
        rec.attempts = attempt + 1
        reply = ask(prompt)
        rec.replies.append(reply)
        try:
            rec.triples, rec.bad_items = parse_triples(reply)
            rec.error = None
            return rec
        except TripleParseError as exc:
            rec.error = str(exc)
            prompt = repair_template.format(error=exc, output=reply[:2000])
    return rec


# ============================================================================================== scoring
def norm(s: str) -> str:
    """Entity/relation text for comparisons: no spaces, quotes or book-title marks, lower case."""
    return re.sub(r"[\s\"'《》“”‘’`]", "", str(s)).lower()


def score(predicted: list[tuple], gold: list[tuple]) -> dict:
    """Precision/recall/F1: strict (head, relation, tail all equal after ``norm``) and relaxed (head and tail
    equal, any relation wording)."""
    def prf(p: set, g: set) -> dict:
        tp = len(p & g)
        prec = tp / len(p) if p else 0.0
        rec = tp / len(g) if g else 0.0
        return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
                "tp": tp}
    ps = {tuple(norm(x) for x in t) for t in predicted}
    gs = {tuple(norm(x) for x in t) for t in gold}
    return {"strict": prf(ps, gs), "relaxed": prf({(h, t) for h, _, t in ps}, {(h, t) for h, _, t in gs}),
            "predicted": len(ps), "gold": len(gs)}


# ============================================================================================== graph
def build_graph(triples: list[tuple], source: Any = None, graph=None):
    """Add triples to a ``networkx.MultiDiGraph`` (edge attribute ``relation``; ``source`` = paragraph id)."""
    import networkx as nx

    g = graph if graph is not None else nx.MultiDiGraph()
    for h, r, t in triples:
        g.add_edge(h, t, relation=r, source=str(source) if source is not None else "")
    return g


def save_graph(g, out_dir: Path, name: str = "graph") -> dict[str, Path]:
    """GraphML + node-link JSON + a PNG with readable Chinese labels."""
    import networkx as nx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"graphml": out_dir / f"{name}.graphml", "json": out_dir / f"{name}.json", "png": out_dir / f"{name}.png"}
    nx.write_graphml(g, paths["graphml"])
    paths["json"].write_text(json.dumps(nx.node_link_data(g, edges="edges"), ensure_ascii=False, indent=1),
                             encoding="utf-8")
    draw_graph(g, paths["png"])
    return paths


def load_graph(path: Path):
    import networkx as nx

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return nx.node_link_graph(data, edges="edges", multigraph=True, directed=True)


def cjk_font() -> str | None:
    """A font family with Chinese glyphs (Noto Sans CJK or WenQuanYi from the Debian packages), if installed."""
    from matplotlib import font_manager

    wanted = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei",
              "Microsoft YaHei", "PingFang SC", "Heiti SC")
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in wanted if n in names), None)


def draw_graph(g, path: Path, max_nodes: int = 120) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        plt.rcParams["axes.unicode_minus"] = False
    nodes = sorted(g.nodes, key=lambda n: -g.degree(n))[:max_nodes]
    sub = g.subgraph(nodes)
    fig, ax = plt.subplots(figsize=(18, 14), dpi=90)
    pos = nx.spring_layout(sub, seed=4, k=2.2 / max(len(sub), 1) ** 0.5, iterations=100)
    nx.draw_networkx_nodes(sub, pos, ax=ax, node_size=[300 + 120 * sub.degree(n) for n in sub], node_color="#cfe3ff",
                           edgecolors="#3a6ea5")
    nx.draw_networkx_edges(sub, pos, ax=ax, arrows=True, arrowsize=12, edge_color="#8a8a8a", width=1.0)
    nx.draw_networkx_labels(sub, pos, ax=ax, font_size=10, font_family=font or "sans-serif")
    labels = {(u, v): d["relation"] for u, v, d in sub.edges(data=True)}
    nx.draw_networkx_edge_labels(sub, pos, edge_labels=labels, ax=ax, font_size=8, font_color="#a0402a",
                                 font_family=font or "sans-serif")
    ax.set_title(f"ChatGLM3 knowledge graph: {g.number_of_nodes()} entities, {g.number_of_edges()} relations",
                 fontsize=14)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ============================================================================================== question answering
def link_entities(question: str, g) -> list[str]:
    """Graph entities mentioned in the question: exact (normalised) substring matches, longest first, without
    entities contained in a longer match; then jieba words of >= 2 characters that name part of an entity."""
    import jieba

    jieba.setLogLevel(60)
    q = norm(question)
    found: list[str] = []
    for node in sorted(g.nodes, key=lambda n: -len(norm(n))):
        n = norm(node)
        if len(n) >= 2 and n in q and not any(n in norm(f) for f in found):
            found.append(node)
    if not found:
        words = [norm(w) for w in jieba.lcut(question) if len(w.strip()) >= 2]
        for node in g.nodes:
            if any(w in norm(node) for w in words):
                found.append(node)
    return found


def subgraph_facts(g, entities: list[str], hops: int = 1, limit: int = 30) -> list[str]:
    """``头 --关系--> 尾`` lines for every edge within ``hops`` of the linked entities."""
    frontier, seen = set(entities), set(entities)
    edges: list[tuple] = []
    for _ in range(hops):
        nxt = set()
        for n in frontier:
            for u, v, d in list(g.out_edges(n, data=True)) + list(g.in_edges(n, data=True)):
                e = (u, d.get("relation", ""), v)
                if e not in edges:
                    edges.append(e)
                nxt.update({u, v} - seen)
        seen |= nxt
        frontier = nxt
    return [f"{u} --{r}--> {v}" for u, r, v in edges[:limit]]
