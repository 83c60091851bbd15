"""One-line messages, with the fix, for the mistakes a reader makes (used by ``common.cli.run``).

A missing model folder is explained by ``common.resolve`` itself; this module covers a missing input file and a
missing optional package (an "extra" of ``pyproject.toml`` that was not installed).
"""
from __future__ import annotations

import os


class UserError(Exception):
    """An expected mistake of the reader (missing file, wrong flag combination); the message carries the fix.
    ``common.cli.run`` prints it as one line. (Scripts import it from ``common.cli``.)"""

# top-level import name -> the pyproject extra that installs it
EXTRA_OF = {
    "bitsandbytes": "quant",
    **dict.fromkeys(("gradio", "streamlit", "fastapi", "uvicorn", "httpx", "openai", "PIL", "imageio",
                     "imageio_ffmpeg", "cv2"), "web"),
    **dict.fromkeys(("peft", "rouge_chinese", "jieba"), "finetune"),
    **dict.fromkeys(("langchain", "langchain_core", "langchain_classic", "langchain_community", "langchain_openai",
                     "langchain_text_splitters", "rank_bm25", "bm25s", "networkx", "numexpr", "sqlglot",
                     "pdfplumber", "docx", "trafilatura", "ddgs", "jsonschema", "yaml", "charset_normalizer",
                     "ray"), "apps"),
    **dict.fromkeys(("pytest", "playwright", "langchain_tests", "hypothesis"), "test"),
}


def missing_package_message(err: ModuleNotFoundError) -> str | None:
    """``"the package 'gradio' is not installed. To fix: pip install -e '.[web]' ..."`` for a package of one of
    this repo's extras; ``None`` for anything else (a bug: the traceback stays)."""
    top = (err.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if not extra:
        return None
    return (f"the package {top!r} is not installed (it comes with this repository's [{extra}] extra). To fix: run "
            f"`pip install -e \".[{extra}]\"` (or \".[all]\") in the repository root")


def file_not_found_message(err: OSError) -> str:
    """``"file not found: data/x.jsonl (relative to /current/dir). To fix: ..."`` — one line."""
    name = getattr(err, "filename", None)
    if not name:
        return str(err)
    what = {IsADirectoryError: "expected a file but got a folder",
            NotADirectoryError: "expected a folder but got a file"}.get(type(err), "file not found")
    where = "" if os.path.isabs(os.fspath(name)) else f" (relative to {os.getcwd()})"
    return f"{what}: {name}{where}. To fix: check the path; commands in the READMEs run from the repository root"
