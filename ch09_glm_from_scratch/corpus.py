"""Training text for the from-scratch GLM: Debian's ``fortunes-zh`` (唐诗三百首, 宋词一百首, Chinese sayings) and
the two tokenizers train.py can use (one character = one token, or a sentencepiece model file).

Fortune files hold entries separated by lines with a single ``%``; titles carry ANSI colour codes, stripped here.

Run:  python ch09_glm_from_scratch/corpus.py     (prints the corpus statistics and one poem)
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg

FORTUNES_DIR = Path("/usr/share/games/fortunes")
DEFAULT_FORTUNES = ("tang300", "song100", "chinese")
INSTALL_HINT = "The default corpus is Debian's fortunes-zh: sudo apt-get install fortunes-zh"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SEPARATOR = re.compile(r"^%\s*$", flags=re.MULTILINE)


class CorpusMissing(FileNotFoundError):
    """Raised when the fortune files are not installed (the message says how to install them)."""


def split_fortunes(text: str) -> list[str]:
    """Entries of a fortune-format text (``%`` lines separate entries), ANSI colour codes removed."""
    text = _ANSI.sub("", text)
    return [entry.strip("\n").rstrip() for entry in _SEPARATOR.split(text) if entry.strip()]


def read_corpus_file(path: str | Path) -> list[str]:
    """Entries of a text file: fortune format when it has ``%`` lines, otherwise blank-line separated paragraphs."""
    text = Path(path).read_text(encoding="utf-8")
    if _SEPARATOR.search(text):
        return split_fortunes(text)
    return [p.strip() for p in re.split(r"\n\s*\n", _ANSI.sub("", text)) if p.strip()]


def read_fortunes(names=DEFAULT_FORTUNES, directory: str | Path = FORTUNES_DIR) -> list[str]:
    """All entries of the named fortune files; ``CorpusMissing`` (with the apt command) if one is absent."""
    entries = []
    for name in names:
        path = Path(directory) / name
        if not path.is_file():
            raise CorpusMissing(INSTALL_HINT)
        entries += split_fortunes(path.read_text(encoding="utf-8"))
    return entries


def train_val_split(entries: list[str], val_fraction: float = 0.05, seed: int = 0) -> tuple[list[str], list[str]]:
    """Shuffle whole entries (a poem never straddles the split) and hold out ``val_fraction`` of them."""
    entries = list(entries)
    random.Random(seed).shuffle(entries)
    n_val = max(1, round(len(entries) * val_fraction))
    return entries[n_val:], entries[:n_val]


class CharTokenizer:
    """One token per character. Ids 0/1/2 are ``<pad>``/``<unk>``/``<eos>`` (eos = 2 as in ChatGLM3)."""

    specials = ("<pad>", "<unk>", "<eos>")
    pad_id, unk_id, eos_id = 0, 1, 2

    def __init__(self, chars: list[str]):
        self.itos = list(self.specials) + list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    @classmethod
    def build(cls, texts, min_count: int = 1) -> "CharTokenizer":
        """Vocabulary = characters seen at least ``min_count`` times, in code-point order (deterministic)."""
        counts = Counter(ch for text in texts for ch in text)
        return cls(sorted(ch for ch, n in counts.items() if n >= min_count))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(ch, self.unk_id) for ch in text]

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in ids if i >= len(self.specials) and i < len(self.itos))

    def state_dict(self) -> dict:
        return {"kind": "char", "chars": self.itos[len(self.specials):]}


class SentencePieceTokenizer:
    """A sentencepiece model (e.g. ChatGLM3's ``tokenizer.model``) with the same small interface."""

    pad_id = 0

    def __init__(self, model_file: str | Path | None = None, model_proto: bytes | None = None):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor()
        if model_proto is not None:
            self.sp.LoadFromSerializedProto(model_proto)
        else:
            self.sp.Load(str(model_file))
        self.eos_id = self.sp.eos_id() if self.sp.eos_id() >= 0 else 2

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids) -> str:
        return self.sp.decode([i for i in ids if 0 <= i < self.vocab_size and i != self.eos_id])

    def state_dict(self) -> dict:
        # 把模型文件本身存进检查点：换了机器也能解码
        return {"kind": "sentencepiece", "model_proto": self.sp.serialized_model_proto()}


def tokenizer_from_state(state: dict):
    """Rebuild a tokenizer saved with ``state_dict()`` (as stored in train.py checkpoints)."""
    if state["kind"] == "char":
        return CharTokenizer(state["chars"])
    return SentencePieceTokenizer(model_proto=state["model_proto"])


def encode_entries(tokenizer, entries: list[str]) -> list[int]:
    """One token stream: every entry followed by ``<eos>`` (the model learns where a poem ends)."""
    ids: list[int] = []
    for entry in entries:
        ids += tokenizer.encode(entry) + [tokenizer.eos_id]
    return ids


@dataclass
class CorpusDemoConfig:
    fortunes: list = arg(list(DEFAULT_FORTUNES), "fortune files to read")
    fortunes_dir: str = arg(str(FORTUNES_DIR), "folder of the fortune files")


def main(cfg: CorpusDemoConfig | None = None) -> dict:
    """Print entries/characters/vocabulary size per file and one Tang poem."""
    cfg = cfg or CorpusDemoConfig()
    try:
        stats = {name: read_fortunes([name], cfg.fortunes_dir) for name in cfg.fortunes}
    except CorpusMissing as err:
        print(err)
        raise SystemExit(1)
    for name, entries in stats.items():
        print(f"{name:<8s} {len(entries):5d} entries {sum(map(len, entries)):8,d} characters")
    every = [e for entries in stats.values() for e in entries]
    tok = CharTokenizer.build(every)
    print(f"all: {len(every)} entries, {sum(map(len, every)):,} characters, {tok.vocab_size} distinct tokens "
          f"(incl. 3 specials)")
    print("\n" + next(iter(stats.values()))[0])
    return {"entries": {k: len(v) for k, v in stats.items()}, "vocab_size": tok.vocab_size}


if __name__ == "__main__":
    from common.cli import run

    run(main, CorpusDemoConfig, __doc__)
