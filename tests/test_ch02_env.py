"""Chapter 2 scripts, run through their main() on tiny models."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from common.paths import REPO_ROOT


def load_script(rel: str):
    path = REPO_ROOT / rel
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def config(mod, **kw):
    """The script's own Config with short, greedy generation."""
    return mod.Config(**{"max_new_tokens": 8, "temperature": 0.0, "seed": 0, **kw})


def test_check_env_prints_no_fail(capsys):
    mod = load_script("ch02_env/check_env.py")
    res = mod.main(mod.Config(min_disk_gb=1.0))
    out = capsys.readouterr().out
    # the demo model may still be missing while it is being rebuilt; everything else must be OK
    fails = [r for r in res["results"] if r[1] is False and r[0] != "built-in demo model"]
    assert not fails, out
    assert "[OK]" in out


def test_softmax_matches_torch():
    mod = load_script("ch02_env/softmax.py")
    res = mod.main(mod.Config(seed=1))
    assert res["diffs"]["numpy stable"] < 1e-6 and res["diffs"]["torch by hand"] < 1e-6
    assert np.isnan(res["naive_large"]).any() and abs(res["stable_large"].sum() - 1) < 1e-6


def test_hello_pytorch():
    mod = load_script("ch02_env/hello_pytorch.py")
    res = mod.main(mod.Config(size=64, repeat=1))
    assert res["cpu_s"] > 0


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_hello_chatglm3(tiny_ckpt, precision, capsys):
    mod = load_script("ch02_env/hello_chatglm3.py")
    res = mod.main(config(mod, model=str(tiny_ckpt), precision=precision, prompt="你好"))
    assert isinstance(res["response"], str) and res["history"][0]["content"] == "你好"
    assert "ChatGLM3:" in capsys.readouterr().out


def test_offline_usage_lists_caches_and_answers(tiny_ckpt, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    snap = tmp_path / "hf" / "hub" / "models--THUDM--chatglm3-6b" / "snapshots" / "abc"
    snap.parent.mkdir(parents=True)
    snap.symlink_to(tiny_ckpt, target_is_directory=True)
    mod = load_script("ch02_env/offline_usage.py")
    res = mod.main(config(mod, model="THUDM/chatglm3-6b", prompt="你好", list=False))
    assert res["folder"]["tokenizer"] and res["folder"]["shards"] == 1
    assert any(p == snap for _, p in res["cached"])


def test_advanced_chat_runs_every_demo(tiny_ckpt):
    mod = load_script("ch02_env/advanced_chat.py")
    res = mod.main(config(mod, model=str(tiny_ckpt), interactive=False))
    assert len(res["history"]) == 5 and set(res["sampling"]) and len(res["tools"]) == 2


def test_tool_round_runs_the_tool_and_answers(tiny_model, tiny_tokenizer, monkeypatch):
    mod = load_script("ch02_env/advanced_chat.py")
    calls = iter([({"name": "get_weather", "parameters": {"city_name": "北京"}}, [{"role": "user"}]),
                  ("北京今天晴。", [{"role": "assistant"}])])
    seen = []

    def fake_chat(model, tok, query, history=None, role="user", **kw):
        seen.append((query, role))
        return next(calls)

    monkeypatch.setattr(mod, "chat", fake_chat)
    answer, _, tool_calls = mod.run_tool_round(tiny_model, tiny_tokenizer, "北京天气", [], {})
    assert answer == "北京今天晴。" and seen[1][1] == "observation" and '"city": "北京"' in seen[1][0]


def test_bench_generate_small(tiny_ckpt, capsys):
    mod = load_script("ch02_env/bench_generate.py")
    res = mod.main(mod.Config(model=str(tiny_ckpt), precisions=["fp32", "int8"], prompt_len=8, new_tokens=2,
                              repeats=2))
    assert [r["precision"] for r in res["rows"]] == ["fp32", "int8"]
    assert all("decode_ms" in r and r["runs"] == 2 for r in res["rows"]), res["rows"]
    assert all(r["decode_ms_min"] <= r["decode_ms"] <= r["decode_ms_max"] for r in res["rows"])
    # a tiny model's load peak is megabytes, not the parent process's memory (ru_maxrss is inherited by children)
    assert all(r["load_peak_rss"] < 256 * 2**20 for r in res["rows"]), res["rows"]
    out = capsys.readouterr().out
    assert "decode ms/tok" in out and "spread ms" in out
    assert "(target" not in out and res["summary"] == {}  # targets are for --full-size only


def test_check_env_lists_every_declared_requirement():
    import importlib.metadata as md

    from packaging.requirements import Requirement

    mod = load_script("ch02_env/check_env.py")
    listed = {name.lower() for name, _, _ in mod.declared_requirements()}
    declared = {Requirement(r).name.lower() for r in md.requires(mod.DISTRIBUTION) or []} - {mod.DISTRIBUTION}
    assert declared and declared <= listed, declared - listed
