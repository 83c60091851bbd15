"""Chapter 2, CPU speed: the GGUF writer, the llama.cpp comparison, hello's streamed answer, quant_accuracy."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from tests.test_ch02_env import load_script

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


def _checkpoint_tensors(ckpt) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return {k: v for f in sorted(ckpt.glob("*.safetensors")) for k, v in load_file(str(f)).items()}


@pytest.mark.parametrize("qtype", ["F32", "BF16", "Q8_0", "Q4_0"])
def test_gguf_writer_reads_back(tiny_ckpt, tmp_path, qtype):
    import gguf

    mod = load_script("ch02_env/gguf_llamacpp.py")
    out = tmp_path / f"tiny-{qtype}.gguf"
    res = mod.write_gguf(tiny_ckpt, out, qtype)
    reader = gguf.GGUFReader(str(out))
    tensors = {t.name: t for t in reader.tensors}
    sd = _checkpoint_tensors(tiny_ckpt)
    expected = {mod.gguf_name(n): n for n in sd if mod.gguf_name(n)}
    assert set(tensors) == set(expected) == set(res["tensors"])
    assert "blk.1.attn_qkv.bias" in tensors and "output.weight" in tensors and "token_embd.weight" in tensors

    def field(key):
        f = reader.fields[key]
        return f.contents() if hasattr(f, "contents") else f.parts[f.data[0]]
    assert field("general.architecture") == "chatglm"
    assert int(field("chatglm.block_count")) == 2 and int(field("chatglm.embedding_length")) == 64
    assert int(field("chatglm.rope.dimension_count")) == 8  # half of a 16-wide head
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == sd["transformer.output_layer.weight"].shape[0]

    for g, name in expected.items():
        t, ref = tensors[g], sd[name].float()
        assert list(reversed([int(x) for x in t.shape])) == list(ref.shape), g  # GGUF lists dims innermost first
        if ref.ndim == 1:  # norms and biases stay F32, exactly
            assert t.tensor_type.name == "F32" and np.array_equal(t.data, ref.numpy()), g
            continue
        assert t.tensor_type.name == qtype, g
        back = torch.from_numpy(np.array(gguf.dequantize(t.data, t.tensor_type), dtype=np.float32)).reshape(ref.shape)
        tol = {"F32": 0.0, "BF16": 2 ** -8, "Q8_0": 0.01, "Q4_0": 0.13}[qtype]  # Q4_0: one step, max/8
        assert (back - ref).abs().max() <= tol * ref.abs().max() + 1e-7, g


def test_gguf_writer_rejects_a_native_folder(tmp_path):
    from common.cli import UserError

    mod = load_script("ch02_env/gguf_llamacpp.py")
    (tmp_path / "config.json").write_text('{"model_type": "glm"}')
    with pytest.raises(UserError, match="official-format"):
        mod.write_gguf(tmp_path, tmp_path / "x.gguf", "F32")


def test_bench_without_llamacpp_prints_ours_and_the_hint(tiny_ckpt, capsys, monkeypatch):
    mod = load_script("ch02_env/bench_generate.py")
    monkeypatch.setattr(mod, "llamacpp_available", lambda: False)
    res = mod.main(mod.Config(model=str(tiny_ckpt), precisions=["int8"], prompt_len=8, new_tokens=2, repeats=1,
                              threads=1, compare_llamacpp=True))
    out = capsys.readouterr().out
    assert "pip install llama-cpp-python" in out and res["llamacpp_rows"] == {}
    row = res["rows"][0]
    assert row["engine"] == "ours" and 0 < row["matmul_floor_ms"] and len(row["greedy"]) == 2
    assert "matmul floor" in out and "ours/llama.cpp" not in out


@pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed")
def test_bench_compares_with_llamacpp(tiny_ckpt, capsys):
    mod = load_script("ch02_env/bench_generate.py")
    res = mod.main(mod.Config(model=str(tiny_ckpt), precisions=["fp32", "int4"], prompt_len=8, new_tokens=4,
                              repeats=1, threads=1, compare_llamacpp=True))
    out = capsys.readouterr().out
    assert set(res["llamacpp_rows"]) == {"fp32", "int4"}
    for p, lr in res["llamacpp_rows"].items():
        assert "error" not in lr, lr
        assert lr["decode_ms"] > 0 and lr["prefill_tok_s"] > 0 and lr["resident"] > 0
    ours = {r["precision"]: r for r in res["rows"]}
    # the same weights in F32: llama.cpp's chatglm graph must pick the same greedy tokens as ours
    assert res["llamacpp_rows"]["fp32"]["greedy"] == ours["fp32"]["greedy"]
    assert "ours/llama.cpp" in out and "llama.cpp Q4_0" in out and "llama.cpp F32" in out
    assert ours["int4"]["ratio_to_llamacpp"] > 0


def test_hello_prints_the_stream_as_the_final_text(monkeypatch, capsys):
    """Streamed printing ends with exactly the response: a half-written placeholder is held back until filled."""
    import common.chatglm3

    mod = load_script("ch02_env/hello_chatglm3.py")
    steps = ["你", "你好，[[训", "你好，[[训练时", "你好，2023年", "你好，2023年。"]
    monkeypatch.setattr(common.chatglm3, "stream_chat",
                        lambda *a, **k: iter([(s, [{"role": "assistant", "content": s}]) for s in steps]))
    response, history, first = mod.stream_answer(None, None, "hi", {})
    assert response == "你好，2023年。" and first is not None
    assert capsys.readouterr().out == "ChatGLM3: 你好，2023年。\n"

    monkeypatch.setattr(common.chatglm3, "stream_chat",
                        lambda *a, **k: iter([("好", []), ({"name": "get_weather", "parameters": {}}, [])]))
    response, _, _ = mod.stream_answer(None, None, "hi", {})
    assert capsys.readouterr().out == "ChatGLM3: 好\nChatGLM3: {'name': 'get_weather', 'parameters': {}}\n"


def test_quant_accuracy_table(tiny_ckpt, capsys):
    mod = load_script("ch02_env/quant_accuracy.py")
    res = mod.main(mod.Config(model=str(tiny_ckpt), precisions=["int8"], new_tokens=4, threads=1))
    assert [(r["precision"], r["quantize_output"], r["kernels"]) for r in res["rows"]] == [
        ("int8", False, "plain"), ("int8", True, "plain"), ("int8", False, "fast")]
    assert all(r["perplexity"] > 0 and 0.99 < r["min_cosine"] <= 1.0 + 1e-6 for r in res["rows"]), res["rows"]
    out = capsys.readouterr().out
    assert "int8 + output layer" in out and "int8 fast kernels" in out


def test_hello_timing_line(tiny_ckpt, capsys):
    mod = load_script("ch02_env/hello_chatglm3.py")
    res = mod.main(mod.Config(model=str(tiny_ckpt), max_new_tokens=4, temperature=0.0, timing=True))
    t = res["timing"]
    assert 0 <= t["first_token_s"] <= t["generate_s"] and t["to_first_token_s"] > t["load_s"]
    assert "[timing]" in capsys.readouterr().out
