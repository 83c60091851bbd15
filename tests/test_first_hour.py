"""A newcomer's mistakes come back as one or two lines with the fix, never a traceback (issue "first hour").

Each case runs a real script as a subprocess with a typical mistake and checks: non-zero exit, at most two lines
on stderr, no "Traceback", and the fix named in the message. Third-party noise is checked by
``tests/test_readme_commands.py`` on every README command.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_script(args: list[str], tmp_path: Path, **env_extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CHATGLM3_MODEL", "MODEL_PATH", "CHATGLM3_VERBOSE")}
    env.update(PYTHONIOENCODING="utf-8", CHATGLM3_OUTPUT_DIR=str(tmp_path / "outputs"), **env_extra)
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    err_lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err_lines) <= 2, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def test_missing_model_folder(tmp_path):
    proc = run_script(["ch02_env/hello_chatglm3.py", "--model", "./models/chatglm3-6b"], tmp_path)
    assert_one_line_error(proc, "does not exist", "hf download THUDM/chatglm3-6b --local-dir ./models/chatglm3-6b",
                          "modelscope download --model ZhipuAI/chatglm3-6b")


def test_wrong_capitalisation_suggests_the_known_id(tmp_path):
    proc = run_script(["ch02_env/hello_chatglm3.py", "--model", "THUDM/chatglm3-6B"], tmp_path,
                      HF_HOME=str(tmp_path / "hf"), MODELSCOPE_CACHE=str(tmp_path / "ms"))
    err = assert_one_line_error(proc, "did you mean 'THUDM/chatglm3-6b'", "hf download THUDM/chatglm3-6b")
    assert "huggingface-cli" not in err


def test_cuda_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_script(["ch02_env/hello_chatglm3.py", "--device", "cuda", "--max-new-tokens", "4"], tmp_path)
    assert_one_line_error(proc, "--device cpu")


def test_missing_input_file(tmp_path):
    proc = run_script(["ch09_glm_from_scratch/train.py", "--corpus-file", "no_such_corpus.txt",
                       "--out-dir", str(tmp_path / "run")], tmp_path)
    assert_one_line_error(proc, "no_such_corpus.txt", "To fix")


def test_bad_training_data(tmp_path):
    """A JSONL file whose only line is broken: the report names the line, the error says what the format is."""
    bad = tmp_path / "mine.jsonl"
    bad.write_text('{"conversations": [}\n', encoding="utf-8")
    proc = run_script(["ch10_finetune/train_lora.py", "--train-file", str(bad), "--output-dir",
                       str(tmp_path / "lora")], tmp_path)
    assert_one_line_error(proc, "no usable training examples", "To fix")
    assert "line 1" in proc.stdout


def test_missing_extra(tmp_path):
    """A package of an extra that is not installed: the message names the extra (simulated by blocking gradio)."""
    code = textwrap.dedent("""
        import sys
        sys.modules["gradio"] = None          # as if the [web] extra were not installed
        from dataclasses import dataclass
        from common.cli import run

        @dataclass
        class Config:
            pass

        def main(cfg):
            import gradio  # noqa: F401

        run(main, Config, "demo", argv=[])
    """)
    proc = run_script(["-c", code], tmp_path)
    assert_one_line_error(proc, "'gradio' is not installed", 'pip install -e ".[web]"')


def test_a_bug_still_shows_its_traceback(tmp_path):
    code = textwrap.dedent("""
        from dataclasses import dataclass
        from common.cli import run

        @dataclass
        class Config:
            pass

        def main(cfg):
            import no_such_module_of_ours  # noqa: F401  (not an extra: a bug, keep the traceback)

        run(main, Config, "demo", argv=[])
    """)
    proc = run_script(["-c", code], tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_slow_step_hint(capsys):
    """Long jobs print one line when other programs starve them of CPU (judged from CPU time vs wall time)."""
    import time

    from common.progress import SlowStepHint

    hint = SlowStepHint(warmup=1, window=2)
    for _ in range(5):
        time.sleep(0.25)                         # a step that waits instead of computing: a starved process
        hint.tick()
    out = capsys.readouterr().out
    assert out.count("[hint]") == 1 and ("--threads 1" in out or "Stop the other programs" in out), out
    assert hint.judge(step_s=1.0, cpu_per_step_s=1.0 * min(__import__("torch").get_num_threads(),
                                                           len(__import__("os").sched_getaffinity(0)))) is None
    assert "idle machine" in SlowStepHint(expected_step_s=0.1).judge(step_s=1.0, cpu_per_step_s=100.0)
    assert SlowStepHint().judge(step_s=0.05, cpu_per_step_s=0.0) is None   # fast steps never get a hint
