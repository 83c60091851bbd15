"""Corpora of the demo model: Chinese texts from Debian's ``fortunes-zh``, synthetic copy tasks, tokenizer corpus.

* ``read_fortunes()`` — 唐诗三百首 (tang300), 宋词一百首 (song100) and ``chinese`` (sayings and short texts), as
  installed by ``apt-get install fortunes-zh``, read with chapter 9's reader;
* ``copy_task_texts()`` / ``copy_examples()`` — random strings repeated after a marker, "find the inserted name"
  lines and look-ups, as examples trained only on the copied part: the model learns to copy (induction heads)
  before it ever sees a tool call.
* ``train_demo_tokenizer()`` — a sentencepiece BPE model (byte fallback, digits split) trained on the texts plus
  the tool system prompts, so that the long official tools JSON becomes a few dozen tokens; afterwards every
  piece that glues several CJK characters (or a space to a CJK character / digit / capital letter) is removed,
  so a name is the same token sequence wherever it appears — the precondition for copying it into a tool call.
"""
from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common.cli import arg  # noqa: E402

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def read_fortunes(min_chars: int = 8) -> list[str]:
    """The entries of Debian's ``fortunes-zh`` (chapter 9's reader), empty lines dropped, short ones skipped."""
    from ch09_glm_from_scratch.corpus import read_fortunes as read_entries

    texts = []
    for entry in read_entries():
        text = "\n".join(ln.strip() for ln in entry.splitlines() if ln.strip())
        if len(text) >= min_chars:
            texts.append(text)
    return texts


COPY_FRAMES = ["我们明天去{x}看看", "{x}是一个好地方", "听说{x}很有名", "请记住{x}这个词", "在{x}的时候", "他来自{x}",
               "{x}怎么样", "关于{x}的问题", "把{x}写下来", "查询{x}", "编号{x}已登记", "代码是{x}", "{x}，收到",
               "今天的口令是{x}，别忘了", "我的朋友住在{x}附近", "Please remember {x}", "The code is {x} today",
               "{x} is the answer", "从{x}出发", "订单{x}已发货", "会议室{x}有人吗", "{x}和别的不一样"]


def _copy_string(rng: random.Random, char_pool: str, wide: str = "") -> str:
    """A random string to copy: CJK characters (frequent ones, or any of ``wide``), digits (many repeats, like
    stock codes), capitals or a mix."""
    r = rng.random()
    if r < 0.45:
        chars = wide if wide and rng.random() < 0.5 else char_pool
        return "".join(rng.choice(chars) for _ in range(rng.randint(2, 8)))
    if r < 0.75:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 9)))
    if r < 0.9:
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(2, 6)))
    alphabet = char_pool[:300] + "0123456789" * 10 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 10)))


def _draw(rng: random.Random, char_pool: str, wide: str, banned: frozenset[str]) -> str:
    """A string to copy that contains none of ``banned`` (held-out names and codes)."""
    while True:
        s = _copy_string(rng, char_pool, wide)
        if not any(b in s for b in banned):
            return s


def copy_task_texts(n: int, seed: int, char_pool: str, wide: str = "",
                    banned: frozenset[str] = frozenset()) -> list[str]:
    """Synthetic copy tasks (plain text, for pretraining) — they build the induction ("copy what followed the
    earlier occurrence") circuit that tool arguments need, before the model ever sees a tool call.

    Three shapes: ``<string> => <same string>`` (pure induction); a sentence with a random string inside, then
    ``名字：<string>`` (find the odd span and copy it — what filling a tool argument is); and a list of three
    strings followed by one of them in quotes, then the string after it (look-up by content). ``wide``: half of
    the CJK strings are drawn from it (every character of the vocabulary gets copied); strings that contain one
    of ``banned`` (held-out names and codes) are drawn again.
    """
    rng = random.Random(seed)

    out = []
    for _ in range(n):
        s = _draw(rng, char_pool, wide, banned)
        r = rng.random()
        if r < 0.35:
            out.append(f"{s} => {s}")
        elif r < 0.85:
            out.append(f"{rng.choice(COPY_FRAMES).format(x=s)}。名字：'{s}'")
        else:
            items = [s] + [_draw(rng, char_pool, wide, banned) for _ in range(2)]
            k = rng.randrange(2)
            out.append(" ".join(items) + f" | '{items[k]}' -> '{items[k + 1]}'")
    return out


def copy_examples(texts: list[str], tok, eos_id: int) -> list[dict]:
    """Copy tasks as training examples with labels only on the copied part (``-100`` elsewhere), the format of
    ``common.sft``: the answer after the marker is the only thing to learn, so every step trains copying.
    (Mixed into a packed language-model stream they hardly teach it: most of the loss is the unpredictable
    random first half.)"""
    out = []
    for t in texts:
        sep = " => " if " => " in t else ("名字：'" if "名字：'" in t else " -> '")
        tail = t.rsplit(sep, 1)[1]
        ids = tok.encode(t) + [eos_id]
        target = tok.encode(tail)
        if tok.id_to_piece(target[0]) == "\u2581":      # the dummy-prefix space is not part of the copy
            target = target[1:]
        start = len(ids) - 1 - len(target)
        out.append({"input_ids": ids, "labels": [-100] * start + ids[start:]})
    return out


# 长距离复制任务的提问方式（键在前文的某处，问的是它后面的值）
LONG_QUERY_FRAMES = ["\n问：{k}是什么？\n答：{k}：", "\n{k}？ ", "\nQ: {k}\nA: {k}：", "\n请找出{k}。{k}："]


def long_copy_examples(n: int, seed: int, tok, eos_id: int, filler_texts: list[str], char_pool: str, wide: str = "",
                       max_fill: int = 900, banned: frozenset[str] = frozenset()) -> list[dict]:
    """Copy tasks at long range, as training examples (labels only on the copied part, like ``copy_examples``).

    The short copy tasks of the copy stage put the string to copy a few dozen tokens back. The chapters' prompts
    put it 300-1,000 tokens back: a value among numbered passages, a tool name in the tools JSON. Here the string
    sits at a random place inside 20-``max_fill`` tokens of real text (``filler_texts``: corpus lines and report
    pages, whose characters also occur in the strings, so matching one character is not enough):

    * 55 %: 1-6 ``key：value。`` facts scattered through the text, then a question about one key → its value;
    * 25 %: a random string somewhere in the text, then its first 2-3 tokens again → the rest (induction);
    * 20 %: the first 3-5 tokens of a stretch of the text again → how the text went on.

    A task whose key tokenizes differently on its own than before its value is skipped (so a few under ``n``).
    """
    rng = random.Random(seed)
    space = tok.piece_to_id("\u2581")

    def enc(text: str) -> list[int]:        # no dummy-prefix space: a string is the same tokens wherever it is
        ids = tok.encode(text)
        return ids[1:] if ids and ids[0] == space else ids

    fill: list[int] = []
    for t in filler_texts:
        fill += enc(t.replace("\n", "，")) + enc("\n")

    out = []
    for _ in range(n):
        length = int(rng.random() ** 0.7 * max_fill) + 20
        start = rng.randrange(0, max(1, len(fill) - length))
        ctx = fill[start:start + length]
        r = rng.random()
        if r < 0.55:
            keys: list[str] = []
            while len(keys) < rng.randint(1, 6):       # the bound is drawn again each round: mostly 1-3 facts
                k = "".join(rng.choice(char_pool) for _ in range(rng.randint(2, 4)))
                if k not in keys:
                    keys.append(k)
            values = [_draw(rng, char_pool, wide, banned) for _ in keys]
            cuts = sorted(rng.randrange(0, len(ctx) + 1) for _ in keys)
            prompt, prev, tails = [], 0, []
            for c, k, v in zip(cuts, keys, values):
                fact, head = enc(f"{k}：{v}。"), enc(f"{k}：")
                prompt += ctx[prev:c] + fact
                tails.append(fact[len(head):] if fact[:len(head)] == head else [])
                prev = c
            prompt += ctx[prev:]
            j = rng.randrange(len(keys))
            prompt += enc(rng.choice(LONG_QUERY_FRAMES).format(k=keys[j]))
            target = tails[j]                    # the value and its 。 exactly as they are in the text
        elif r < 0.8:
            sid = enc(_draw(rng, char_pool, wide, banned) + _draw(rng, char_pool, wide, banned))
            c = rng.randrange(0, len(ctx) + 1)
            k = min(len(sid) - 1, rng.randint(2, 3))
            prompt = ctx[:c] + sid + ctx[c:] + enc("\n") + sid[:k]
            target = sid[k:]
        else:
            a = rng.randrange(0, max(1, len(ctx) - 20))
            k = rng.randint(3, 5)
            prompt = ctx + enc("\n接着原文写：") + ctx[a:a + k]
            target = ctx[a + k:a + k + rng.randint(4, 12)]
        if not target:
            continue
        ids = prompt + target + [eos_id]
        out.append({"input_ids": ids, "labels": [-100] * len(prompt) + target + [eos_id]})
    return out


def tool_prompt_texts() -> list[str]:
    """The system-message texts the tokenizer should compress: prompt + tools JSON, every tool combination."""
    from common.prompts import TOOL_SYSTEM_PROMPT, example_tools
    combos = [("get_weather",), ("track",), ("get_weather", "track"), ("track", "get_weather")]
    texts = [TOOL_SYSTEM_PROMPT + "\n" + json.dumps(example_tools(*c), indent=4, ensure_ascii=False) for c in combos]
    return texts + ["```python\ntool_call(city_name='x')\n```", "```python\ntool_call(symbol='x')\n```",
                    "get_weather\n", "track\n"]


def prompt_symbols() -> list[str]:
    """Whole strings that always occur verbatim in tool dialogues, made single pieces (spaces written as ▁).

    The tool prompt, each official tool's JSON block (as ``json.dumps(indent=4)`` prints it inside the list),
    the list brackets between blocks and the fixed parts of a tool-call message. With them the system message
    of a tool dialogue is under ten tokens instead of ~300, so SFT spends its compute on the questions.
    """
    from common.prompts import TOOL_SYSTEM_PROMPT, example_tools
    sym = ["\u2581" + TOOL_SYSTEM_PROMPT]
    for name in ("get_weather", "track"):
        text = json.dumps(example_tools(name), indent=4, ensure_ascii=False)
        sym.append(text[text.index("{"):text.rindex("}") + 1])
    sym += ["\n[\n    ", ",\n    ", "\n]", "\u2581```python\ntool_call(city_name='", "\u2581```python\ntool_call(symbol='",
            "')\n```"]
    return [s.replace(" ", "\u2581") for s in sym]


def _bad_piece(piece: str) -> bool:
    """Pieces that would make the same name tokenize differently in different contexts."""
    body = piece.replace("\u2581", "")
    if _HAN.search(piece) and len(piece) > 1:          # 多个汉字合成一个词片 / ▁+汉字
        return True
    if piece.startswith("\u2581") and body[:1].isascii() and (body[:1].isdigit() or body[:1].isupper()):
        return True                                        # ▁6, ▁A...: 股票代码前有空格时也要逐字一致
    if len(body) > 1 and body.isascii() and body.isalpha() and body.isupper():
        return True                                        # AAPL 之类全大写片段
    return False


def train_demo_tokenizer(out_file: Path, texts: list[str], vocab_size: int = 12000, seed: int = 0) -> dict:
    """Train the sentencepiece model, prune context-dependent pieces, write ``out_file``; return stats."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    corpus = out_file.with_suffix(".corpus.txt")
    rng = random.Random(seed)
    lines = [ln for t in texts for ln in t.splitlines() if ln.strip()]
    prompts = tool_prompt_texts()
    # the tools JSON is repeated so BPE merges whole lines of it; whitespace is kept (json indent)
    lines += [ln for _ in range(300) for p in prompts for ln in p.splitlines() if ln.strip()]
    rng.shuffle(lines)
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prefix = str(out_file.with_suffix(""))
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        character_coverage=0.9999, byte_fallback=True, split_digits=True, split_by_whitespace=False,
        allow_whitespace_only_pieces=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
        max_sentencepiece_length=48, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
        user_defined_symbols=prompt_symbols())
    model = pb.ModelProto()
    model.ParseFromString(Path(prefix + ".model").read_bytes())
    keep = [p for p in model.pieces if p.type != pb.ModelProto.SentencePiece.NORMAL or not _bad_piece(p.piece)]
    n_before = len(model.pieces)
    del model.pieces[:]
    model.pieces.extend(keep)
    del model.trainer_spec.input[:]              # the corpus/prefix paths of this machine do not belong in the model
    model.trainer_spec.model_prefix = ""
    out_file.write_bytes(model.SerializeToString())
    Path(prefix + ".vocab").unlink(missing_ok=True)
    if Path(prefix + ".model") != out_file:
        Path(prefix + ".model").unlink(missing_ok=True)
    corpus.unlink(missing_ok=True)
    return {"pieces_trained": n_before, "pieces_kept": len(keep), "path": str(out_file)}


@dataclass
class Config:
    n: int = arg(5, "number of synthetic copy tasks to print")
    seed: int = arg(0, "random seed")


def main(cfg: Config | None = None) -> dict:
    cfg = cfg or Config()
    """Print corpus statistics and a few synthetic copy tasks."""
    texts = read_fortunes()
    stats = {"entries": len(texts), "chars": sum(len(t) for t in texts)}
    print(stats)
    for t in copy_task_texts(cfg.n, cfg.seed, "天地人和春秋山水风云"):
        print(t)
    return stats


if __name__ == "__main__":
    from common.cli import run

    run(main, Config, __doc__)
