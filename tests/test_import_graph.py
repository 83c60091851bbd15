"""The import graph of the repository: no cycle (module-level or inside functions), no arrow from a chapter into a
later chapter, none from ``common/`` into a chapter (docs/CONTRIBUTING.md). Read with ``ast``; nothing is imported."""
from __future__ import annotations

import ast
import re

from common.paths import REPO_ROOT

PATTERNS = ("ch*/**/*.py", "appendix*/**/*.py", "common/*.py")


def _modules() -> dict[str, ast.Module]:
    mods = {}
    for pattern in PATTERNS:
        for path in REPO_ROOT.glob(pattern):
            rel = path.relative_to(REPO_ROOT)
            if "__pycache__" in rel.parts:
                continue
            name = ".".join(rel.with_suffix("").parts)
            name = name[: -len(".__init__")] if name.endswith(".__init__") else name
            mods[name] = ast.parse(path.read_text(encoding="utf-8"))
    return mods


def _edges(mods: dict[str, ast.Module]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, tree in mods.items():
        package = name.split(".")[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    for cand in (f"{target}.{alias.name}", target):
                        if cand in mods and cand != name:
                            edges[name].add(cand)
                            break
            elif isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names if a.name in mods and a.name != name}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return found


def _chapter(module: str) -> int | None:
    m = re.match(r"ch(\d+)_", module)
    return int(m.group(1)) if m else None


def test_no_import_cycle():
    assert not _cycles(_edges(_modules()))


def test_arrows_point_to_earlier_chapters_and_common_imports_no_chapter():
    bad = []
    for a, targets in _edges(_modules()).items():
        for b in targets:
            later = _chapter(a) is not None and _chapter(b) is not None and _chapter(b) > _chapter(a)
            if later or (a.startswith("common") and not b.startswith("common")):
                bad.append(f"{a} -> {b}")
    assert not bad, bad
