"""Chapter 9 trainer and scripts: corpus parsing, exact resume after a kill, the train/generate scripts, --help."""
from __future__ import annotations

import random
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ch09_glm_from_scratch.config import ChatGLMConfig
from ch09_glm_from_scratch.corpus import (INSTALL_HINT, CharTokenizer, encode_entries, read_corpus_file,
                                          split_fortunes, train_val_split)
from ch09_glm_from_scratch.model import ChatGLMForConditionalGeneration
from ch09_glm_from_scratch.train import TokenBatches, TrainConfig, TrainScriptConfig, Trainer, read_checkpoint

CHAPTER = Path(__file__).resolve().parent.parent / "ch09_glm_from_scratch"


@pytest.fixture(autouse=True)
def isolated_outputs_one_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path / "outputs"))
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def fake_poems(n: int = 60, seed: int = 0) -> str:
    """Fortune-format text: ANSI-coloured titles and 4 lines of 5 characters, entries split by '%'."""
    rng = random.Random(seed)
    chars = "春花秋月江山风雨云水明光夜白日天地人心归"
    entries = []
    for i in range(n):
        lines = ["".join(rng.choice(chars) for _ in range(5)) for _ in range(4)]
        entries.append(f"\x1b[32m《诗{i}》\x1b[m\n" + "，".join(lines[:2]) + "。\n" + "，".join(lines[2:]) + "。")
    return "\n%\n".join(entries) + "\n%\n"


def tiny_model(vocab: int = 64) -> ChatGLMForConditionalGeneration:
    torch.manual_seed(0)
    return ChatGLMForConditionalGeneration(ChatGLMConfig(num_layers=1, hidden_size=32, num_attention_heads=4,
                                                         kv_channels=8, ffn_hidden_size=40, padded_vocab_size=vocab))


# ------------------------------------------------------------------------------------------ corpus
def test_fortune_parsing_strips_ansi_and_splits(tmp_path):
    entries = split_fortunes(fake_poems(3))
    assert len(entries) == 3 and entries[0].startswith("《诗0》\n") and "\x1b" not in "".join(entries)
    plain = tmp_path / "plain.txt"
    plain.write_text("第一段\n第二行\n\n第二段\n", encoding="utf-8")
    assert read_corpus_file(plain) == ["第一段\n第二行", "第二段"]
    train, val = train_val_split([str(i) for i in range(100)], 0.1, seed=0)
    assert len(val) == 10 and not set(train) & set(val)
    assert train_val_split([str(i) for i in range(100)], 0.1, seed=0) == (train, val)


def test_char_tokenizer_roundtrip_and_eos():
    tok = CharTokenizer.build(["床前明月光", "疑是地上霜"])
    ids = tok.encode("明月光")
    assert tok.decode(ids) == "明月光" and min(ids) >= 3
    assert tok.encode("雪")[0] == tok.unk_id
    assert encode_entries(tok, ["床前", "光"])[-1] == tok.eos_id == 2


def test_missing_fortunes_prints_the_apt_command(tmp_path, capsys):
    from ch09_glm_from_scratch.train import main

    with pytest.raises(SystemExit) as exit_info:
        main(TrainScriptConfig(fortunes_dir=str(tmp_path), out_dir=str(tmp_path / "run")))
    assert exit_info.value.code == 1
    assert "sudo apt-get install fortunes-zh" in capsys.readouterr().out and "fortunes-zh" in INSTALL_HINT


# ------------------------------------------------------------------------------------------ trainer
def test_token_batches_resume_exactly():
    tokens = torch.arange(500)
    a = TokenBatches(tokens, batch_size=4, seq_len=10, seed=1)
    for _ in range(20):  # crosses an epoch boundary (49 windows per epoch)
        a.next_batch()
    b = TokenBatches(tokens, batch_size=4, seq_len=10, seed=1)
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        (xa, ya), (xb, yb) = a.next_batch(), b.next_batch()
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(xa[:, 1:], ya[:, :-1])


def _trainer(out_dir, callbacks=(), **overrides):
    g = torch.Generator().manual_seed(0)
    stream = torch.randint(3, 64, (3000,), generator=g)
    cfg = TrainConfig(out_dir=str(out_dir), max_steps=6, batch_size=4, seq_len=16, eval_every=3, eval_batches=2,
                      ckpt_every=2, warmup_steps=2, device="cpu", progress=False, log_every=1)
    return Trainer(tiny_model(), stream[:2500], stream[2500:], replace(cfg, **overrides), callbacks=callbacks)


def test_resume_after_kill_gives_the_same_model(tmp_path):
    straight = _trainer(tmp_path / "a").fit()

    class Killed(Exception):
        pass

    def kill_at_step_3(trainer):  # dies between checkpoints: steps after the last one are redone
        if trainer.step == 3:
            raise Killed

    with pytest.raises(Killed):
        _trainer(tmp_path / "b", callbacks=[kill_at_step_3]).fit()
    assert read_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 2
    resumed = _trainer(tmp_path / "b").fit()
    assert resumed["resumed_from"] == 2 and resumed["step"] == 6
    a, b = read_checkpoint(straight["checkpoint"]), read_checkpoint(resumed["checkpoint"])
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert a["optimizer"]["state"][0]["exp_avg"].equal(b["optimizer"]["state"][0]["exp_avg"])
    assert a["data"] == b["data"] and a["history"]["val_loss"] == b["history"]["val_loss"]
    assert not (tmp_path / "b" / "checkpoint.pt.tmp").exists()


def test_stop_after_saves_and_continues(tmp_path):
    first = _trainer(tmp_path, stop_after=3).fit()
    assert first["interrupted"] and first["step"] == 3
    assert read_checkpoint(first["checkpoint"])["step"] == 3
    second = _trainer(tmp_path).fit()
    assert second["resumed_from"] == 3 and not second["interrupted"]
    assert [s for s, _ in second["train_loss"]] == list(range(1, 7))  # no step lost or repeated
    assert Path(second["loss_curve"]).is_file()


def test_bf16_autocast_path_runs_on_cpu(tmp_path):
    results = _trainer(tmp_path, dtype="bf16", max_steps=2, eval_every=2).fit()
    assert results["step"] == 2 and all(torch.isfinite(torch.tensor(v)) for _, v in results["train_loss"])


def test_trainer_accepts_transformers_glm(tmp_path):
    from transformers import GlmConfig, GlmForCausalLM

    model = GlmForCausalLM(GlmConfig(vocab_size=64, hidden_size=32, intermediate_size=40, num_hidden_layers=1,
                                     num_attention_heads=4, num_key_value_heads=2, head_dim=8, pad_token_id=0))
    stream = torch.randint(3, 64, (1500,))
    cfg = TrainConfig(out_dir=str(tmp_path), max_steps=2, batch_size=2, seq_len=8, eval_every=2, eval_batches=1,
                      device="cpu", progress=False)
    results = Trainer(model, stream, stream[:200], cfg).fit()
    assert results["step"] == 2 and results["val_loss"][-1][0] == 2


# ------------------------------------------------------------------------------------------ scripts
def test_train_script_then_generate(tmp_path):
    from ch09_glm_from_scratch import generate, train

    corpus = tmp_path / "poems.txt"
    corpus.write_text(fake_poems(), encoding="utf-8")
    cfg = TrainScriptConfig(corpus_file=str(corpus), out_dir=str(tmp_path / "run"), max_steps=8, batch_size=4,
                            seq_len=24, eval_every=4, ckpt_every=4, eval_batches=1, warmup_steps=2, num_layers=1,
                            hidden_size=32, num_attention_heads=4, kv_channels=8, ffn_hidden_size=48,
                            sample_prompts=["春"], sample_tokens=8, progress=False, device="cpu", val_fraction=0.2)
    results = train.main(cfg)
    assert results["step"] == 8 and len(results["val_loss"]) == 3
    assert results["val_loss"][-1][1] < results["val_loss"][0][1]
    assert results["samples"][0].startswith("春") and Path(results["samples_file"]).is_file()
    assert Path(results["loss_curve"]).is_file() and results["tokens_per_s"] > 0
    out = generate.main(generate.GenerateConfig(checkpoint=results["checkpoint"], prompt=["明月"],
                                                max_new_tokens=5))
    assert out["texts"][0].startswith("明月") and out["kv_cache"]["identical"]


@pytest.mark.parametrize("script", sorted(p.name for p in CHAPTER.glob("*.py")
                                          if not p.name.startswith("_") and p.name != "config.py"))
def test_every_script_answers_help(script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(CHAPTER))  # as when run as `python ch09_glm_from_scratch/<script>`
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(CHAPTER / script), run_name="__main__")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
