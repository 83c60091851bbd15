"""Model resolution: --model > CHATGLM3_MODEL > MODEL_PATH > demo model; local caches only, never downloads."""
from __future__ import annotations

import pytest

from common import resolve
from common.resolve import ModelNotFoundError, resolve_model_path


def folder(p):
    p.mkdir(parents=True, exist_ok=True)
    (p / "config.json").write_text("{}")
    return p


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("CHATGLM3_MODEL", "MODEL_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "MODELSCOPE_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    return monkeypatch


def test_precedence(clean_env, tmp_path):
    a, b, c = folder(tmp_path / "a"), folder(tmp_path / "b"), folder(tmp_path / "c")
    clean_env.setenv("MODEL_PATH", str(c))
    assert resolve_model_path() == c
    clean_env.setenv("CHATGLM3_MODEL", str(b))
    assert resolve_model_path() == b
    assert resolve_model_path(a) == a


def test_demo_model_is_the_default(clean_env, tmp_path):
    demo = folder(tmp_path / "demo")
    clean_env.setattr(resolve, "DEMO_MODEL_DIR", demo)
    assert resolve_model_path() == demo and resolve.is_demo_model(demo)
    assert "CHATGLM3_MODEL" in resolve.demo_notice(demo)
    clean_env.setattr(resolve, "DEMO_MODEL_DIR", tmp_path / "missing")
    with pytest.raises(ModelNotFoundError, match="build.py"):
        resolve_model_path()


def test_hub_ids_from_local_caches(clean_env, tmp_path):
    repo = tmp_path / "hf" / "hub" / "models--THUDM--chatglm3-6b"
    snap = folder(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    assert resolve_model_path("THUDM/chatglm3-6b") == snap
    ms = folder(tmp_path / "ms" / "hub" / "ZhipuAI" / "chatglm3-6b-32k")
    assert resolve_model_path("ZhipuAI/chatglm3-6b-32k") == ms
    assert resolve_model_path("THUDM/chatglm3-6b-32k") == ms   # THUDM id found under ModelScope's ZhipuAI owner


def test_missing_models_say_how_to_get_them(clean_env, tmp_path):
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        resolve_model_path("THUDM/chatglm3-6b")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_path(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="config.json"):
        resolve_model_path(tmp_path / "empty")
