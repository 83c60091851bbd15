"""6.2.1 Sample documents in every format the loaders read (data/ch06/sample_docs/), including the bad cases.

Writes a short Chinese text about retrieval-augmented generation split over: a UTF-8 ``.txt``, a **GBK** ``.txt``,
a ``.md``, an ``.html`` page, a ``.docx`` (python-docx, with a table) and a two-page ``.pdf`` (matplotlib, CJK font
embedded as a subset), plus an **empty** file and a **corrupt** PDF that the loaders must report and skip.

    python ch06_rag/make_sample_docs.py                   # writes data/ch06/sample_docs/
    python ch06_rag/make_sample_docs.py --out my_sample_docs
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run

TXT_UTF8 = """检索增强生成简介

检索增强生成（RAG）先从文档库里找出与问题最相关的段落，再把这些段落和问题一起交给大模型回答。这样模型回答时有据可查，可以标出引用的文件和页码。
如果检索到的段落与问题关系不大，系统应该直接回答“文档中没有提到”，而不是让模型凭空编造答案。
"""
TXT_GBK = """BM25 参数说明

BM25 是经典的关键词检索算法。参数 k1 控制词频饱和的速度，一般取 1.2 到 2.0，本章使用 1.5。参数 b 控制文档长度归一化的强度，一般取 0.75。
中文文本要先用 jieba 分词，再建立倒排索引；把公司简称加入用户词典可以避免简称被切碎。
"""
MARKDOWN = """# 文本分块

## 为什么要分块
整篇年报有几百页，不能一次放进模型的上下文。分块后只把最相关的几块交给模型。

## 中文分块规则
优先在段落、换行处切分，其次在句号、问号、感叹号和分号处切分。相邻两块保留一段重叠，避免答案正好被切断。块的长度可以按字符计算，也可以按 ChatGLM3 分词器的 token 计算。
"""
HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>混合检索</title>
<style>p {color: red}</style><script>var ignored = "脚本内容不应出现在文本里";</script></head>
<body><h1>混合检索</h1>
<p>稠密检索用向量相似度找语义相近的段落，BM25 用关键词精确匹配。</p>
<p>倒数排名融合（RRF）把两种检索的排名合并：每个段落的得分是各路排名倒数之和，常数取 60。</p>
<table><tr><th>方法</th><th>擅长</th></tr><tr><td>BM25</td><td>数字、代码、专有名词</td></tr>
<tr><td>稠密检索</td><td>同义改写</td></tr></table></body></html>
"""
DOCX_PARAGRAPHS = ["反向问题生成", "让大模型为每个文本块写出它能回答的问题，并存入 SQLite 数据库。",
                   "检索时用用户问题去匹配这些生成的问题，往往比直接匹配原文更准确。"]
DOCX_TABLE = [["字段", "含义"], ["chunk_id", "文本块编号"], ["questions", "生成的问题列表"]]
PDF_PAGES = ["第一页：评价指标\nhit@1 表示第一个结果就是正确段落的比例。\nhit@5 表示前五个结果中包含正确段落的比例。",
             "第二页：平均倒数排名\nMRR 是正确段落排名倒数的平均值，\n排名第一得 1 分，排名第二得 0.5 分。"]
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@dataclass
class Config:
    out: str | None = arg(None, "output folder (default data/ch06/sample_docs)")


def write_pdf(path: Path, pages: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.font_manager import FontProperties

    font = next((f for f in CJK_FONTS if Path(f).is_file()), None)
    if font is None:
        raise UserError("no CJK font for the sample PDF. To fix: apt-get install fonts-wqy-microhei")
    fp = FontProperties(fname=font)
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path, metadata={"CreationDate": None}) as pdf:
        for text in pages:
            fig = plt.figure(figsize=(8.27, 11.69))
            for i, line in enumerate(text.splitlines()):
                fig.text(0.08, 0.92 - i * 0.04, line, fontproperties=fp, fontsize=13)
            pdf.savefig(fig)
            plt.close(fig)


def write_docx(path: Path) -> None:
    import datetime

    import docx

    d = docx.Document()
    d.add_heading(DOCX_PARAGRAPHS[0], level=1)
    for p in DOCX_PARAGRAPHS[1:]:
        d.add_paragraph(p)
    table = d.add_table(rows=len(DOCX_TABLE), cols=2)
    for r, row in enumerate(DOCX_TABLE):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    fixed = datetime.datetime(2024, 1, 1)
    d.core_properties.created = d.core_properties.modified = fixed
    d.save(str(path))


def make_sample_docs(out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"utf8": out / "rag_intro.txt", "gbk": out / "bm25_params_gbk.txt", "md": out / "chunking.md",
             "html": out / "hybrid.html", "docx": out / "reverse_questions.docx", "pdf": out / "metrics.pdf",
             "empty": out / "empty.txt", "corrupt": out / "broken.pdf"}
    files["utf8"].write_text(TXT_UTF8, encoding="utf-8")
    files["gbk"].write_bytes(TXT_GBK.encode("gbk"))
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["html"].write_text(HTML, encoding="utf-8")
    write_docx(files["docx"])
    write_pdf(files["pdf"], PDF_PAGES)
    files["empty"].write_bytes(b"")
    files["corrupt"].write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n% truncated: no xref, no trailer\n")
    return files


def main(cfg: Config) -> dict:
    from common.paths import DATA_DIR

    out = Path(cfg.out) if cfg.out else DATA_DIR / "ch06" / "sample_docs"
    files = make_sample_docs(out)
    for kind, p in files.items():
        print(f"  {kind:>7}: {p.name} ({p.stat().st_size} bytes)")
    return {"folder": str(out), "files": {k: str(v) for k, v in files.items()}}


if __name__ == "__main__":
    run(main, Config, __doc__)
