"""Chapter 10: LoRA from scratch == PEFT, quantizers, data generator, LoRA/QLoRA training with resume, inference and
merging, a 2-process accelerate launch, and --help of every script. Tiny models from common.testing (seconds)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = ["make_data", "lora_basics", "quantize", "train_lora", "infer_lora", "train_qlora", "bench_finetune"]


def _write_small_data(folder: Path) -> tuple[Path, Path]:
    """16 short training conversations (one with a tool call) and 4 dev ones: fast with the tiny tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    pairs = [("hi", "hello"), ("bye", "see you"), ("ship?", "in 24 h"), ("refund?", "3 days")]
    train = []
    for i in range(16):
        q, a = pairs[i % 4]
        train.append({"conversations": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    train[5] = {"tools": [{"name": "track", "description": "d", "parameters": {}}],
                "conversations": [{"role": "user", "content": "where"},
                                  {"role": "tool", "name": "track", "parameters": {"id": "7"}, "observation": "ok"},
                                  {"role": "assistant", "content": "fine"}]}
    dev = [{"conversations": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in pairs]
    tr, dv = folder / "train.jsonl", folder / "dev.jsonl"
    tr.write_text("".join(json.dumps(r) + "\n" for r in train), encoding="utf-8")
    dv.write_text("".join(json.dumps(r) + "\n" for r in dev), encoding="utf-8")
    return tr, dv


def _train_cfg(tiny_ckpt, data_dir: Path, out: Path, **kw) -> dict:
    tr, dv = _write_small_data(data_dir)
    cfg = {"model": str(tiny_ckpt), "train_file": str(tr), "dev_file": str(dv), "output_dir": str(out),
           "max_steps": 6, "batch_size": 4, "max_length": 256, "n_eval": 2, "n_demo": 1, "max_new_tokens": 4,
           "save_every": 2, "eval_every": 0, "log_every": 1, "seed": 1, "target_loss": 0.0}
    cfg.update(kw)
    return cfg


@pytest.fixture(scope="module")
def trained(tiny_ckpt, tmp_path_factory):
    """One uninterrupted 6-step LoRA run (reused by the resume and inference tests)."""
    from ch10_finetune.train_lora import Config, main
    base = tmp_path_factory.mktemp("ch10")
    cfg = _train_cfg(tiny_ckpt, base / "data", base / "full")
    return cfg, main(Config(**cfg))


# ------------------------------------------------------------------------------------------------ scripts
def test_help_of_every_script():
    procs = {s: subprocess.Popen([sys.executable, f"ch10_finetune/{s}.py", "--help"], cwd=REPO, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for s in SCRIPTS}
    for s, p in procs.items():
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, f"{s}: {err[-2000:]}"
        assert "usage:" in out and "--" in out, s


def test_make_data_is_deterministic_and_matches_the_committed_files(tmp_path):
    from ch10_finetune.make_data import Config, main
    from common.sft import read_jsonl

    res = main(Config(out_dir=str(tmp_path)))
    assert res["total_bytes"] < 1024 * 1024
    assert res["tool_conversations"] > 50 and res["system_conversations"] > 50
    for rel in res["files"]:
        assert (tmp_path / rel).read_bytes() == (REPO / "data" / "ch10" / rel).read_bytes(), rel
        good, bad = read_jsonl(tmp_path / rel)
        assert not bad and good
    cs = [r for _, r in read_jsonl(tmp_path / "customer_service/train.jsonl")[0]]
    assert len(cs) + res["files"]["customer_service/dev.jsonl"]["records"] >= 300
    assert any(m["role"] == "tool" for r in cs for m in r["conversations"])


# ------------------------------------------------------------------------------------------------ LoRA math
def test_lora_linear_counts_and_merge():
    from ch10_finetune.lora_basics import LoRALinear, count_parameters

    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(64, 32), r=4, alpha=8)
    assert count_parameters(layer) == (4 * (64 + 32), 4 * (64 + 32) + 64 * 32 + 32)
    x = torch.randn(5, 64)
    assert torch.equal(layer(x), layer.base(x))          # B = 0: starts exactly at the base model
    with torch.no_grad():
        layer.lora_B.normal_()
    assert torch.allclose(layer.merged()(x), layer(x), atol=1e-5)


def test_lora_from_scratch_equals_peft_and_merges(tiny_ckpt):
    from ch10_finetune.lora_basics import Config, main

    r = main(Config(model=str(tiny_ckpt)))
    assert r["start_diff"] == 0.0 and r["moved"] > 1e-3
    assert r["merge_diff"] < 1e-5 and r["peft_diff"] < 1e-6 and r["peft_merge_diff"] < 1e-5
    assert r["peft_trainable"] == r["trainable"] > 0
    assert r["chatglm3_6b"][0]["trainable"] == 1_949_696   # PEFT's printout for the official r=8 query_key_value


# ------------------------------------------------------------------------------------------------ quantization
def test_weight_only_quantizer_round_trip_bounds():
    from ch10_finetune.quantize import WeightOnlyQuantLinear, pack_int4, unpack_int4

    q = torch.tensor([list(range(-8, 8))], dtype=torch.int8)
    assert torch.equal(unpack_int4(pack_int4(q)), q)
    torch.manual_seed(0)
    lin = nn.Linear(128, 48)
    x = torch.randn(3, 128)
    for bits, qmax in ((8, 127), (4, 7)):
        m = WeightOnlyQuantLinear(lin, bits)
        scale = lin.weight.detach().abs().amax(dim=1) / qmax
        err = (m.dequantize() - lin.weight.detach()).abs().amax(dim=1)
        assert torch.all(err <= scale / 2 + 1e-6)                      # rounding error at most half a step
        assert m.weight.dtype == (torch.uint8 if bits == 4 else torch.int8)
        assert m.weight.numel() == 48 * 128 // (2 if bits == 4 else 1)  # INT4: two weights per byte
        assert torch.allclose(m(x), x @ m.dequantize().t() + lin.bias, atol=1e-5)


def test_quantization_explanations_hold():
    from ch10_finetune.quantize import explain

    r = explain(verbose=False)
    assert r["zeropoint_mean_err"] < r["absmax_mean_err"]
    for bits in (8, 4):
        assert r["per_channel"][bits]["per_channel"] < r["per_channel"][bits]["per_tensor"]
    assert r["llm_int8"]["mixed"] < r["llm_int8"]["int8_with_outliers"] / 5
    assert r["nf4_err"] < r["int4_err"]
    if r["nf4_vs_bitsandbytes"] is not None:
        assert r["nf4_vs_bitsandbytes"] < 1e-5
    assert r["bits_per_param"] == {"nf4": 4.5, "nf4_double_quant": pytest.approx(4.127, abs=1e-3)}


def test_quantize_compare_on_a_tiny_model(tiny_ckpt, tmp_path):
    from ch10_finetune.quantize import Config, main

    _, dev = _write_small_data(tmp_path)
    rows = {r["method"]: r for r in main(Config(model=str(tiny_ckpt), data=str(dev), n_texts=2))["compare"]}
    fp = rows["fp32 (reference)"]
    i8, i4 = rows["ours INT8 per-row"], rows["ours INT4 per-row, packed"]
    assert fp["max_logit_diff"] == 0.0
    assert 0 < i8["max_logit_diff"] < i4["max_logit_diff"]
    assert i8["linear_bytes"] < 0.3 * fp["linear_bytes"] and i4["linear_bytes"] < 0.6 * i8["linear_bytes"]
    assert "bnb NF4 + double quant" in rows


# ------------------------------------------------------------------------------------------------ training
def test_train_lora_learns_saves_and_reports(trained, tiny_ckpt):
    from peft import PeftModel

    from common.chatglm3 import load_model

    cfg, res = trained
    out = Path(cfg["output_dir"])
    assert res["steps"] == 6 and len(res["history"]) == 6
    assert res["dev_loss"] < res["before"]["dev_loss"]
    assert res["data"]["train"]["examples"] == 16 and res["data"]["train"]["bad"] == 0
    assert (out / "loss_curve.png").stat().st_size > 1000
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert {"dev_loss", "dev_after", "dev_before", "demo"} <= set(metrics)
    assert {"exact_match", "rouge_l"} <= set(metrics["dev_after"])
    model = PeftModel.from_pretrained(load_model(tiny_ckpt), str(out))   # a standard PEFT adapter
    assert any(("lora_B" in n and p.abs().sum() > 0) for n, p in model.named_parameters())


def test_resume_after_interruption_follows_the_same_trajectory(trained, tiny_ckpt, tmp_path):
    from ch10_finetune.train_lora import Config, main

    cfg_full, full = trained
    cfg = _train_cfg(tiny_ckpt, tmp_path / "data", tmp_path / "run", stop_after=3)
    first = main(Config(**cfg))
    assert first["stopped"] and first["steps"] == 3
    state = json.loads((tmp_path / "run" / "checkpoint" / "trainer_state.json").read_text(encoding="utf-8"))
    assert state["step"] == 3 and state["batch_in_epoch"] == 3     # 4 batches per epoch: mid-epoch
    second = main(Config(**{**cfg, "stop_after": 0, "resume": True}))
    assert second["steps"] == 6
    got = [h["loss"] for h in second["history"]]
    want = [h["loss"] for h in full["history"]]
    assert got == pytest.approx(want, abs=1e-5)                    # same data order, same LR schedule, same RNG


def test_train_qlora_two_steps(tiny_ckpt, tmp_path):
    from ch10_finetune.train_qlora import Config, main

    cfg = _train_cfg(tiny_ckpt, tmp_path / "data", tmp_path / "q", max_steps=2, n_eval=1)
    res = main(Config(**cfg))
    assert res["steps"] == 2 and (tmp_path / "q" / "adapter_config.json").is_file()
    assert all(h["loss"] == h["loss"] for h in res["history"])     # not NaN


def test_infer_lora_compare_chat_and_merge(trained, tiny_ckpt, tmp_path):
    from ch10_finetune.infer_lora import Config, main

    cfg, _ = trained
    res = main(Config(model=str(tiny_ckpt), adapter=cfg["output_dir"], dev_file=cfg["dev_file"], compare=2,
                      query=["hi", "ship?"], max_new_tokens=4, merge_to=str(tmp_path / "merged")))
    assert res["compare"]["after"]["n"] == 2 and len(res["answers"]) == 2 and len(res["history"]) == 4
    assert res["merge"]["max_logit_diff"] < 1e-4
    assert json.loads((tmp_path / "merged" / "config.json").read_text())["model_type"] == "chatglm"


def test_two_process_accelerate_launch(tiny_ckpt, tmp_path):
    tr, dv = _write_small_data(tmp_path / "data")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "ch10_finetune/train_lora.py",
           "--model", str(tiny_ckpt), "--train-file", str(tr), "--dev-file", str(dv), "--max-steps", "2",
           "--batch-size", "2", "--max-length", "96", "--n-eval", "0", "--n-demo", "0",
           "--output-dir", str(tmp_path / "out")]
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "[accelerate] 2 process(es), distributed type MULTI_CPU" in p.stdout
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


def test_bench_runs_on_a_tiny_glm():
    from ch10_finetune.bench_finetune import Config, chatglm3_6b_budget, main

    res = main(Config(hidden=64, layers=1, ffn=128, heads=2, kv_groups=1, head_dim=32, vocab=256, seq_len=16,
                      steps=1, in_process=True))
    assert [r["way"] for r in res["load_peak"]["rows"]] == ["before", "after"]
    assert not any("error" in r for r in res["load_peak"]["rows"]), res["load_peak"]
    assert {r["method"] for r in res["rows"]} == {"full", "lora", "lora_gc", "qlora"}
    full = next(r for r in res["rows"] if r["method"] == "full")
    assert all(r["trainable"] < full["trainable"] for r in res["rows"] if r["method"] != "full")
    lora = next(b for b in chatglm3_6b_budget() if "official_mib" in b)
    assert abs(lora["gib"] * 1024 - lora["official_mib"]) / lora["official_mib"] < 0.15


def test_default_schedule_learns_a_small_faq(tmp_path, monkeypatch):
    """A reader's 10-conversation FAQ with the default flags (issue: 5 epochs = 10 steps learned nothing): the
    schedule grows to --min-steps, the dev set is a held-out split of that file (not the bundled one), the output
    folder is named after the file — and the trained answers come back exactly."""
    from ch10_finetune.make_data import bank_faq
    from ch10_finetune.train_lora import Config, check_config, main
    from common.cli import UserError
    from common.testing import make_tiny_checkpoint

    faq = bank_faq(10)
    texts = [m["content"] for r in faq for m in r["conversations"]]
    # hidden 128: the smallest random base whose LoRA memorises 40-character answers in 200 steps (64 gets 6/9)
    ckpt = make_tiny_checkpoint(tmp_path / "tiny-faq", seed=0, texts=texts * 3, vocab_size=500, hidden_size=128,
                                kv_channels=32, ffn_hidden_size=192)
    path = tmp_path / "my_faq.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in faq), encoding="utf-8")
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path / "outputs"))
    cfg = Config(model=str(ckpt), train_file=str(path), n_demo=0, n_eval=1, max_new_tokens=64, threads=1)
    assert Path(check_config(cfg).output_dir).name == "lora-my_faq"
    res = main(cfg)
    assert "1 of the 10 conversations" in res["dev_set"]                     # held out, not the bundled dev set
    assert res["steps"] > 10                                                 # not 5 epochs of 2 steps
    assert res["trained_answers"]["n"] == 9 and res["trained_answers"]["exact_match"] >= 0.8, res["trained_answers"]
    other = tmp_path / "other.jsonl"
    other.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(UserError, match="--overwrite"):                      # an adapter of other data is kept
        check_config(Config(model=str(ckpt), train_file=str(other), output_dir=res["output_dir"]))


def test_train_lora_points_to_qlora_for_4bit_and_refuses_missing_files(tmp_path):
    from ch10_finetune.train_lora import Config, check_config, main
    from common.cli import UserError

    with pytest.raises(UserError, match="train_qlora.py"):
        main(Config(precision="int4"))
    with pytest.raises(UserError, match="no such file"):
        check_config(Config(train_file=str(tmp_path / "missing.jsonl")))
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="accelerate picks the device"):
            check_config(Config(device="cuda"))


def test_jsonl_error_names_the_column_of_the_line(tmp_path):
    from common.sft import read_jsonl

    path = tmp_path / "cut.jsonl"
    path.write_text('{"conversations": [\n', encoding="utf-8")
    _, bad = read_jsonl(path)
    assert bad == [(1, "invalid JSON (Expecting value at column 20)")]     # not "column 1" of a next line
