"""Every README's promised default commands print what the README says (on the built-in demo model).

A README marks a command it promises with an HTML comment on its own line (invisible on GitHub):

    <!-- check: python ch02_env/hello_chatglm3.py --max-new-tokens 16 => [demo model] | ChatGLM3: -->

The command runs from the repository root on the demo model (``CHATGLM3_MODEL``/``MODEL_PATH`` unset), with
``python`` replaced by this interpreter, as plain argv (no shell, no pipes); it must exit 0 and every text after
``=>`` (separated by `` | ``) must appear in its stdout + stderr; a text starting with ``re:`` is a regular
expression. No known third-party noise (``common.quiet.noise_lines``) may appear in the output.
See docs/CONTRIBUTING.md ("README checks"). Checks must be quick (a few CPU seconds each, at most three per README).
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from common.quiet import noise_lines

REPO = Path(__file__).resolve().parents[1]
CHECK = re.compile(r"<!--\s*check:\s*(?P<cmd>.+?)\s*=>\s*(?P<expect>.+?)\s*-->")
TIMEOUT_S = 180          # per command; generous because the CPU may be shared (each takes a few CPU seconds)
MAX_CHECKS_PER_README = 3


def readme_files() -> list[Path]:
    return [REPO / "README.md"] + sorted(REPO.glob("ch*/README.md")) + sorted(REPO.glob("appendix*/README.md"))


def parse_checks(text: str) -> list[tuple[list[str], list[str]]]:
    """``[(argv, [expected, ...]), ...]`` for the check comments of one README."""
    checks = []
    for m in CHECK.finditer(text):
        argv = shlex.split(m.group("cmd"))
        expects = [e.strip() for e in m.group("expect").split(" | ") if e.strip()]
        checks.append((argv, expects))
    return checks


def all_checks() -> list:
    params = []
    for readme in readme_files():
        for argv, expects in parse_checks(readme.read_text(encoding="utf-8")):
            rel = readme.relative_to(REPO).as_posix()
            params.append(pytest.param(argv, expects, id=f"{rel}: {' '.join(argv[1:])}"[:120]))
    return params


def is_table_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def move_checks_below_tables(text: str) -> str:
    """Check comments placed between table rows end the table on GitHub (an HTML block breaks a GFM table, the
    rest renders as text): move them below the table, after a blank line, keeping their order."""
    out: list[str] = []
    pending: list[str] = []
    in_table = False
    for line in text.split("\n"):
        if CHECK.fullmatch(line.strip()) and in_table:
            pending.append(line.strip())
            continue
        if in_table and not is_table_row(line) and pending:
            out += ["", *pending] + ([""] if line.strip() else [])
            pending = []
        in_table = is_table_row(line) or (in_table and CHECK.fullmatch(line.strip()) is not None)
        out.append(line)
    if pending:
        out += ["", *pending]
    return "\n".join(out)


def test_checks_do_not_break_tables():
    broken = [p.relative_to(REPO).as_posix() for p in readme_files()
              if move_checks_below_tables(p.read_text("utf-8")) != p.read_text("utf-8")]
    assert not broken, (f"<!-- check --> lines between table rows end the table on GitHub; put them below the table "
                        f"(after a blank line): {broken}")


def test_move_checks_below_tables():
    text = "| a |\n|---|\n| 1 |\n<!-- check: python x.py => A | B -->\n| 2 |\ntext\n"
    assert move_checks_below_tables(text) == ("| a |\n|---|\n| 1 |\n| 2 |\n\n<!-- check: python x.py => A | B -->"
                                             "\n\ntext\n")
    assert move_checks_below_tables(move_checks_below_tables(text)) == move_checks_below_tables(text)


def test_parse_checks():
    text = ("| a | b |\n<!-- check: python ch02_env/x.py --n 2 --q '你 好' => [demo model] | re:\\d+ tokens -->\n"
            "<!--check: python -m common.convert_checkpoint --help=>usage-->")
    assert parse_checks(text) == [
        (["python", "ch02_env/x.py", "--n", "2", "--q", "你 好"], ["[demo model]", r"re:\d+ tokens"]),
        (["python", "-m", "common.convert_checkpoint", "--help"], ["usage"]),
    ]


def test_every_chapter_readme_has_a_check():
    """New chapters adopt the convention: each chapter README promises at least one quick command."""
    missing = [p.parent.name for p in sorted(REPO.glob("ch*/README.md")) if not parse_checks(p.read_text("utf-8"))]
    assert not missing, f"chapter READMEs without a <!-- check: ... --> line: {missing}"


def test_checks_stay_few():
    """Each command costs a Python start with torch (a few CPU seconds): keep the whole file near a minute."""
    many = {p.relative_to(REPO).as_posix(): n for p in readme_files()
            if (n := len(parse_checks(p.read_text("utf-8")))) > MAX_CHECKS_PER_README}
    assert not many, f"more than {MAX_CHECKS_PER_README} check commands in: {many}"


def run_check(argv: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CHATGLM3_MODEL", "MODEL_PATH", "CHATGLM3_VERBOSE")}
    env["PYTHONIOENCODING"] = "utf-8"
    try:
        return subprocess.run([sys.executable, *argv[1:]], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:  # one slow command fails its own test, not the whole file
        return subprocess.CompletedProcess(argv, -1, str(err.stdout or ""), f"timed out after {TIMEOUT_S} s")


@pytest.fixture(scope="module")
def check_results(request) -> dict:
    """Runs every selected check command up front, a few at a time (each one mostly waits for imports and model
    loading, so on 2 cores two or three in parallel halve the wall time); keyed by the argv tuple."""
    from concurrent.futures import ThreadPoolExecutor

    selected = [tuple(item.callspec.params["argv"]) for item in request.session.items
                if getattr(item, "originalname", None) == "test_readme_command"]
    workers = max(1, min(3, os.cpu_count() or 1, len(selected)))
    with ThreadPoolExecutor(workers) as pool:
        return dict(zip(selected, pool.map(lambda argv: run_check(list(argv)), selected)))


@pytest.mark.parametrize("argv,expects", all_checks())
def test_readme_command(argv, expects, check_results):
    assert argv[0] == "python", f"a check runs a python command, got {argv[0]!r}"
    proc = check_results.get(tuple(argv)) or run_check(argv)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out[-3000:]}"
    assert not noise_lines(out), f"third-party noise in the output (filter it in common/quiet.py):\n{out[-3000:]}"
    for expect in expects:
        if expect.startswith("re:"):
            assert re.search(expect[3:], out), f"no match for {expect!r} in:\n{out[-3000:]}"
        else:
            assert expect in out, f"{expect!r} not in:\n{out[-3000:]}"
