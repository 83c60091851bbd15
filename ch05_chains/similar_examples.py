"""5.2.2 基于相似度的输出示例 — SemanticSimilarityExampleSelector over an in-memory vector store.

Every example question is embedded once into LangChain's ``InMemoryVectorStore``; for each new question the ``--k``
nearest examples go into the few-shot prompt. Embeddings come from ``ChatGLM3Embeddings`` (mean-pooled ChatGLM3
hidden states, in-process or through ``/v1/embeddings`` of the chapter-3 server) or, with ``--embedding-model``,
from a local sentence-transformers folder. The demo model's embeddings are weak, so on it the chosen examples are
often not the closest in meaning; a real embedding model picks the same-topic examples.

    python ch05_chains/similar_examples.py
    python ch05_chains/similar_examples.py --embedding-model models/bge-small-zh-v1.5 --no-ask
    python ch05_chains/similar_examples.py --base-url http://127.0.0.1:8000/v1
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
    questions: list = arg(["广州后天天气怎么样？", "宁德时代股价多少？", "LoRA 的秩应该设多大？"],
                          "new questions to pick examples for")
    k: int = arg(2, "how many examples to put into the prompt")
    embedding_model: str | None = arg(None, "local sentence-transformers model folder (default: ChatGLM3Embeddings)")
    ask: bool = arg(True, "send the first question's prompt to the model (--no-ask: only the selection)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 8)


def build_prompt(embeddings, k: int):
    """A FewShotPromptTemplate whose examples come from a SemanticSimilarityExampleSelector."""
    from langchain_core.example_selectors import SemanticSimilarityExampleSelector
    from langchain_core.prompts import FewShotPromptTemplate, PromptTemplate
    from langchain_core.vectorstores import InMemoryVectorStore

    from ch05_chains import prompts as P

    selector = SemanticSimilarityExampleSelector.from_examples(
        P.TOPIC_EXAMPLES, embeddings, InMemoryVectorStore, k=k, input_keys=["question"])
    prompt = FewShotPromptTemplate(example_selector=selector,
                                   example_prompt=PromptTemplate.from_template(P.TOPIC_EXAMPLE_TEMPLATE),
                                   prefix=P.TOPIC_PREFIX, suffix=P.TOPIC_SUFFIX, input_variables=["question"],
                                   example_separator="\n\n")
    return prompt, selector


def main(cfg: Config) -> dict:
    from ch05_chains import prompts as P

    if not 1 <= cfg.k <= len(P.TOPIC_EXAMPLES):
        raise UserError(f"--k must be between 1 and {len(P.TOPIC_EXAMPLES)}, got {cfg.k}")
    if not cfg.questions:
        raise UserError("--questions is empty. To fix: pass at least one question")
    from ch05_chains.models import make_embeddings, make_llm, print_stand_in

    embeddings = make_embeddings(cfg, cfg.embedding_model)
    prompt, selector = build_prompt(embeddings, cfg.k)
    llm = make_llm(cfg)
    if not cfg.embedding_model or cfg.ask:
        print_stand_in(llm, "answers" if cfg.embedding_model else "example choices (embeddings) and answers")
    rows = []
    for question in cfg.questions:
        chosen = selector.select_examples({"question": question})
        rows.append({"question": question, "examples": chosen})
        print(f"{question}  ->  " + "；".join(f"{e['question']}（{e['answer']}）" for e in chosen))
    first = prompt.format(question=cfg.questions[0])
    print(f"=== prompt for {cfg.questions[0]!r}:\n{first}")
    result = {"rows": rows, "prompt": first, "answer": None}
    if cfg.ask:
        from langchain_core.output_parsers import StrOutputParser

        result["answer"] = (prompt | llm | StrOutputParser()).invoke({"question": cfg.questions[0]})
        print(f"=== ChatGLM3LLM -> {result['answer']!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
