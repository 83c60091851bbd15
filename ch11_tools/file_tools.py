"""Tools that touch files — opt-in, and confined to ONE folder (path traversal refused).

    python ch11_tools/file_tools.py                          # a notes folder under outputs/ch11/notes
    python ch11_tools/file_tools.py --name ../../etc/passwd  # refused: outside the folder

No registry in this chapter offers file or shell tools by default: a model that can write anywhere, or run a
command, turns every prompt injection into an attack. When a task needs files, register these three on purpose
(``register_note_tools(registry, folder)``); every path the model gives is resolved and must stay inside
``folder`` — ``..``, absolute paths, drive letters and symlinks that lead out are refused, names are limited to
simple file names with an allowed suffix, and files are size-limited. There is no shell tool at all.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run

ALLOWED_SUFFIXES = (".txt", ".md", ".json")
MAX_NOTE_BYTES = 64 * 1024


class PathOutsideFolder(PermissionError):
    """A path that would leave the tool's folder."""


def safe_path(folder: str | os.PathLike, name: str) -> Path:
    """``folder/name`` if it stays inside ``folder`` (after resolving ``..`` and symlinks), else an error."""
    root = Path(folder).resolve()
    if not isinstance(name, str) or not name.strip():
        raise PathOutsideFolder("empty file name")
    if "\x00" in name or Path(name).is_absolute() or name.startswith(("/", "\\", "~")) or ":" in name:
        raise PathOutsideFolder(f"{name!r} is not a relative file name inside the notes folder")
    target = (root / name).resolve()
    if target != root and root not in target.parents:
        raise PathOutsideFolder(f"{name!r} points outside the notes folder")
    if target.suffix.lower() not in ALLOWED_SUFFIXES:
        raise PathOutsideFolder(f"only {', '.join(ALLOWED_SUFFIXES)} files may be used, not {name!r}")
    return target


def register_note_tools(registry, folder: str | os.PathLike) -> list[str]:
    """Register ``list_notes``, ``read_note``, ``write_note`` working inside ``folder`` only; returns their names."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)

    def list_notes() -> list[str]:
        """List the note files in the notes folder."""
        return sorted(p.name for p in root.resolve().iterdir() if p.is_file() and p.suffix in ALLOWED_SUFFIXES)

    def read_note(name: str) -> str:
        """Read one note.

        Args:
            name: file name inside the notes folder, e.g. shopping.txt
        """
        path = safe_path(root, name)
        if not path.is_file():
            raise FileNotFoundError(f"no note named {name!r}")
        if path.stat().st_size > MAX_NOTE_BYTES:
            raise ValueError(f"{name!r} is larger than {MAX_NOTE_BYTES} bytes")
        return path.read_text(encoding="utf-8", errors="replace")

    def write_note(name: str, text: str) -> dict:
        """Write (replace) one note.

        Args:
            name: file name inside the notes folder, e.g. shopping.txt
            text: the note's text
        """
        if len(text.encode("utf-8")) > MAX_NOTE_BYTES:
            raise ValueError(f"a note may hold at most {MAX_NOTE_BYTES} bytes")
        path = safe_path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return {"written": path.name, "bytes": len(text.encode("utf-8"))}

    for fn in (list_notes, read_note, write_note):
        registry.register(fn)
    return ["list_notes", "read_note", "write_note"]


@dataclass
class Config:
    folder: str = arg("", "the notes folder (default: outputs/ch11/notes)")
    name: str = arg("routine.txt", "a note name to write and read back (try ../../x.txt: refused)")
    text: str = arg("早上：洁面、防晒；晚上：卸妆、洁面、面霜", "text to write")


def main(cfg: Config) -> dict:
    from ch11_tools.registry import ToolRegistry
    from common.paths import output_dir

    folder = Path(cfg.folder) if cfg.folder else output_dir("ch11", "notes")
    registry = ToolRegistry(timeout=5)
    register_note_tools(registry, folder)
    print(f"note tools (opt-in) inside {folder.name}/: {registry.names()}")
    results = {}
    for name, args in (("write_note", {"name": cfg.name, "text": cfg.text}), ("read_note", {"name": cfg.name}),
                       ("list_notes", {})):
        r = registry.call(name, args)
        results[name] = r.as_dict()
        print(f"{name}({args}) -> {'ok' if r.ok else r.error}: {r.content[:200]}")
    return {"folder": str(folder), "results": results}


if __name__ == "__main__":
    run(main, Config, __doc__)
