"""6.2.5 A small gradio page for document QA: the answer, and the passages it cites (file, page, text).

Same pipeline as ``doc_qa.py`` (plain version): retrieve -> numbered passages -> answer with ``[n]`` ->
citations; below the threshold the page says the documents do not say, without asking the model.

    python ch06_rag/webui.py                                  # bundled reports, demo model, http://127.0.0.1:7860
    python ch06_rag/webui.py --docs path/to/docs --model /path/to/chatglm3-6b
    python ch06_rag/webui.py --base-url http://127.0.0.1:8000/v1 --port 7861
"""
from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch03_gradio.gradio_basics.launching import LaunchConfig, launch
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs, LaunchConfig):
    docs: str | None = arg(None, "folder of documents (default data/finreports/reports)")
    k: int = arg(4, "passages given to the model")
    threshold: float = arg(0.5, "answer only if the best passage covers this share of the question (0..1)")


def render_passages(result) -> str:
    """HTML cards for the passages: cited ones first and marked, each with file and page."""
    cited = {c.n for c in result.cited}
    cards = []
    for c in sorted(result.passages, key=lambda c: (c.n not in cited, c.n)):
        mark = "引用 cited" if c.n in cited else "检索到 retrieved"
        text = html.escape(" ".join(c.text.split())[:400])
        cards.append(f'<div class="passage{" cited" if c.n in cited else ""}" data-n="{c.n}">'
                     f'<b>[{c.n}]</b> <span class="src">{html.escape(c.source)}</span> '
                     f'<span class="page">p.{c.page}</span> <i>{mark}</i><br>{text}</div>')
    return "\n".join(cards) or "<i>no passage</i>"


def build_app(retriever, ask: Callable[[str], str], note: str | None = None, k: int = 4, threshold: float = 0.5):
    """The gradio Blocks (tests pass a small retriever and a scripted ``ask``)."""
    import gradio as gr

    from ch06_rag.qa import answer_question

    def respond(question: str):
        if not (question or "").strip():
            return "请输入问题 / please type a question", ""
        r = answer_question(question, retriever, ask, k=k, threshold=threshold)
        if r.refused:
            head = (f"**{r.answer}**\n\n(the documents do not say: the best passage covers {r.support:.0%} of "
                    f"the question, below {threshold:.0%}; the model was not asked)")
        else:
            srcs = "; ".join(f"[{c.n}] {c.source} p.{c.page}" for c in r.cited) or "none"
            head = f"{r.answer}\n\n**cited:** {srcs}"
        return head, render_passages(r)

    css = ".passage{border:1px solid #ccc;border-radius:6px;padding:6px;margin:4px 0}.cited{border-color:#e67e22}"
    with gr.Blocks(title="ChatGLM3 文档问答 (6.2.5)") as demo:
        gr.Markdown("## 文档问答 Document QA — answers cite [n] → file, page")
        if note:
            gr.Markdown(note, elem_id="demo-note")
        with gr.Row():
            question = gr.Textbox(label="问题 Question", elem_id="question", scale=4,
                                  placeholder="海翔药业的法定代表人是谁？")
            ask_btn = gr.Button("提问 Ask", variant="primary", scale=1)
        answer = gr.Markdown(elem_id="answer")
        passages = gr.HTML(elem_id="passages")
        gr.HTML(f"<style>{css}</style>")
        ask_btn.click(respond, question, [answer, passages])
        question.submit(respond, question, [answer, passages])
    return demo


def main(cfg: Config):
    from ch06_rag.doc_qa import build_retriever
    from ch06_rag.llm import ask_fn, llm_from_cfg
    from ch06_rag.retrieve import build_corpus

    corpus, _ = build_corpus(cfg.docs)
    cfg.retriever = "bm25"
    retriever = build_retriever(cfg, corpus)
    llm, note = llm_from_cfg(cfg, temperature=0.0, quiet=True)
    if note:
        print(note)
    demo = build_app(retriever, ask_fn(llm), note, cfg.k, cfg.threshold)
    if cfg.launch:
        print(f"serving on {launch(demo, cfg)}")
    return demo


if __name__ == "__main__":
    run(main, Config, __doc__)
