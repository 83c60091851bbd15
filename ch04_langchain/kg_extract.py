"""4.3.1 基于ChatGLM3的LLM终端完成知识图谱抽取 — ChatGLM3 extracts (head, relation, tail) triples as JSON from
paragraphs; imperfect JSON is repaired, retried once with the parser's error, else skipped and reported; the
triples become a ``networkx`` graph saved as GraphML, JSON and a PNG with Chinese labels; precision/recall against
the bundled gold triples are printed.

    python ch04_langchain/kg_extract.py                          # 8 bundled paragraphs, demo model
    python ch04_langchain/kg_extract.py --limit 0 --model /path/to/chatglm3-6b --device cuda --precision fp16
    python ch04_langchain/kg_extract.py --paragraphs my_text.txt --limit 0   # your own text (blank-line paragraphs)
    python ch04_langchain/kg_extract.py --base-url http://127.0.0.1:8000/v1

Outputs: outputs/ch04/kg/{graph.graphml, graph.json, graph.png, extraction.json}; ``kg_qa.py`` reads graph.json.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 160)
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    paragraphs: str | None = arg(None, "a .txt (paragraphs separated by blank lines) or .jsonl ({text, triples}) "
                                       "file (default: the 33 bundled paragraphs with gold triples)")
    limit: int = arg(8, "use the first N paragraphs (0 = all)")
    retries: int = arg(1, "re-ask this many times with the JSON error before skipping a paragraph")
    graph_from: str = arg("auto", "build the graph from 'extracted' triples, the 'gold' ones, or 'auto' "
                                  "(extracted; gold on the demo model, whose triples are only stand-ins)",
                          choices=["auto", "extracted", "gold"])
    out: str | None = arg(None, "output folder (default: outputs/ch04/kg)")


def main(cfg: Config) -> dict:
    if cfg.limit < 0 or cfg.retries < 0:
        raise UserError("--limit and --retries must be >= 0")
    import json

    from langchain_core.messages import HumanMessage, SystemMessage

    from ch04_langchain.kg import build_graph, extract_triples, load_paragraphs, save_graph, score
    from ch04_langchain.prompts import KG_EXTRACT_TEMPLATE, KG_REPAIR_TEMPLATE, KG_SYSTEM
    from common.langchain_chatglm3 import chat_model_from_config
    from common.paths import output_dir

    paragraphs = load_paragraphs(cfg.paragraphs)
    if cfg.limit:
        paragraphs = paragraphs[:cfg.limit]
    model = chat_model_from_config(cfg)
    demo = model.uses_demo_model()

    def ask(prompt: str) -> str:
        return model.invoke([SystemMessage(KG_SYSTEM), HumanMessage(prompt)]).content

    records, predicted, gold = [], [], []
    for p in paragraphs:
        rec = extract_triples(ask, p, KG_EXTRACT_TEMPLATE, KG_REPAIR_TEMPLATE, retries=cfg.retries)
        records.append(rec)
        predicted += rec.triples
        gold += p["triples"]
        status = (f"{len(rec.triples)} triples" + (f" ({rec.bad_items} malformed items dropped)" if rec.bad_items
                                                   else "")) if rec.error is None else f"SKIPPED: {rec.error}"
        print(f"[{p['id']}] {p['text'][:36]}...  attempts {rec.attempts}: {status}")
        for t in rec.triples[:4]:
            print(f"      {t}")
    skipped = [r for r in records if r.error]
    print(f"\nparsed {len(records) - len(skipped)}/{len(records)} paragraphs, {len(predicted)} triples; "
          f"retried {sum(r.attempts > 1 for r in records)}, skipped {len(skipped)}"
          + (f" (ids {[r.paragraph_id for r in skipped]})" if skipped else ""))
    metrics = None
    if gold:
        metrics = score(predicted, gold)
        s, r = metrics["strict"], metrics["relaxed"]
        print(f"vs gold ({metrics['gold']} triples): strict P {s['precision']:.1%} R {s['recall']:.1%} "
              f"F1 {s['f1']:.1%}; relaxed (head+tail) P {r['precision']:.1%} R {r['recall']:.1%} F1 {r['f1']:.1%}")
    source = cfg.graph_from
    if source == "auto":
        source = "gold" if demo and gold else "extracted"
    if demo:
        print("[demo model] its triples are stand-ins (a 7M model cannot do extraction); "
              + ("the graph below is built from the bundled gold triples." if source == "gold" else
                 "the graph below holds what it wrote."))
    if source == "gold" and not gold:
        raise UserError("--graph-from gold needs paragraphs with gold triples (a .jsonl with \"triples\").")
    graph = None
    for p, rec in zip(paragraphs, records):
        graph = build_graph(p["triples"] if source == "gold" else rec.triples, source=p["id"], graph=graph)
    if graph is None or graph.number_of_edges() == 0:
        import networkx as nx
        graph = graph if graph is not None else nx.MultiDiGraph()
        print("the graph is empty: no triple could be extracted")
    out_dir = Path(cfg.out) if cfg.out else output_dir("ch04", "kg")
    paths = save_graph(graph, out_dir)
    report = [{"paragraph": r.paragraph_id, "attempts": r.attempts, "error": r.error, "triples": r.triples,
               "replies": r.replies} for r in records]
    (out_dir / "extraction.json").write_text(json.dumps({"graph_from": source, "metrics": metrics,
                                                         "records": report}, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
    print(f"graph ({source}): {graph.number_of_nodes()} entities, {graph.number_of_edges()} relations -> "
          + ", ".join(str(p) for p in paths.values()))
    return {"records": report, "metrics": metrics, "graph_from": source, "paths": {k: str(v) for k, v in
                                                                                 paths.items()},
            "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(), "skipped": len(skipped)}


if __name__ == "__main__":
    run(main, Config, __doc__)
