"""Chapter 9.2: the from-scratch GLM == the runtime's GlmForCausalLM on official checkpoints; KV-cached generation."""
from __future__ import annotations

import pytest
import torch

from ch09_glm_from_scratch.config import ChatGLMConfig
from ch09_glm_from_scratch.generate import apply_repetition_penalty, apply_top_k, apply_top_p, generate
from ch09_glm_from_scratch.model import ChatGLMForConditionalGeneration, from_official, save_official


@pytest.fixture(scope="module")
def tiny_random():
    torch.manual_seed(0)
    conf = ChatGLMConfig(num_layers=2, hidden_size=32, num_attention_heads=4, multi_query_group_num=2,
                         kv_channels=8, ffn_hidden_size=40, padded_vocab_size=64)
    return ChatGLMForConditionalGeneration(conf, init_std=0.3).eval()


def test_official_names_and_6b_parameter_count():
    with torch.device("meta"):
        model = ChatGLMForConditionalGeneration(ChatGLMConfig.chatglm3_6b())
    names = list(model.state_dict())
    assert names[0] == "transformer.embedding.word_embeddings.weight"
    assert "transformer.encoder.layers.27.self_attention.query_key_value.bias" in names
    assert names[-2:] == ["transformer.encoder.final_layernorm.weight", "transformer.output_layer.weight"]
    assert not any("inv_freq" in n for n in names)
    assert model.num_parameters() == 6_243_584_000


def test_loss_uses_shifted_labels(tiny_random):
    ids = torch.randint(0, 64, (2, 9))
    with torch.no_grad():
        out = tiny_random(ids, labels=ids)
    expected = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 64), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, expected)


@pytest.mark.parametrize("sample", [False, True])
def test_generation_with_kv_cache_equals_without(tiny_random, sample):
    prompt = torch.randint(0, 64, (1, 5))
    kwargs = dict(do_sample=sample, temperature=0.9, top_k=20, top_p=0.9, repetition_penalty=1.2)
    with_cache = generate(tiny_random, prompt, 20, use_cache=True, generator=torch.Generator().manual_seed(3),
                          **kwargs)
    without = generate(tiny_random, prompt, 20, use_cache=False, generator=torch.Generator().manual_seed(3),
                       **kwargs)
    assert with_cache.shape == (1, 25)
    assert torch.equal(with_cache, without)


def test_generation_stops_at_eos(tiny_random):
    prompt = torch.randint(0, 64, (1, 4))
    first = int(generate(tiny_random, prompt, 1)[0, -1])
    out = generate(tiny_random, prompt, 10, eos_token_id=[first, 63])
    assert out.shape == (1, 5) and int(out[0, -1]) == first


def test_logits_processors_match_transformers():
    from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor, TopKLogitsWarper,
                                                        TopPLogitsWarper)

    torch.manual_seed(0)
    logits = torch.randn(3, 50) * 3
    seen = torch.randint(0, 50, (3, 7))
    assert torch.equal(apply_repetition_penalty(logits, seen, 1.3),
                       RepetitionPenaltyLogitsProcessor(1.3)(seen, logits.clone()))
    assert torch.equal(apply_top_k(logits, 7), TopKLogitsWarper(7)(seen, logits.clone()))
    for p in (0.3, 0.8, 0.95):
        assert torch.equal(apply_top_p(logits, p).isinf(), TopPLogitsWarper(p)(seen, logits.clone()).isinf())


def test_equivalence_with_runtime_glm(tiny_ckpt, tiny_model, tiny_tokenizer):
    """Same official checkpoint, two implementations: logits within 1e-4 and identical greedy tokens."""
    mine = from_official(tiny_ckpt)
    ids = tiny_tokenizer.build_chat_input("床前明月光，疑是地上霜。")["input_ids"]
    with torch.no_grad():
        a, b = mine(ids).logits, tiny_model(input_ids=ids).logits
    assert a.shape == b.shape
    assert float((a - b).abs().max()) <= 1e-4
    ours = generate(mine, ids, 12)
    theirs = tiny_model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                 top_p=None, top_k=None, temperature=None, eos_token_id=None, pad_token_id=0)
    assert ours.tolist() == theirs.tolist()


def test_left_padding_matches_unpadded(tiny_ckpt):
    mine = from_official(tiny_ckpt)
    ids = torch.randint(3, 500, (1, 6))
    padded = torch.cat((torch.zeros(1, 3, dtype=torch.long), ids), 1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        plain = mine(ids).logits
        # RoPE is relative: shifting every position by 3 leaves the real tokens' logits unchanged
        pad = mine(padded, attention_mask=mask).logits[:, 3:]
    assert torch.allclose(plain, pad, atol=1e-4)


def test_rope_ratio_and_sharded_bin_checkpoint(tmp_path):
    from common.chatglm3 import load_model
    from common.testing import make_tiny_checkpoint

    path = make_tiny_checkpoint(tmp_path / "ckpt", seed=1, fmt="bin", shards=3, rope_ratio=50, dtype=torch.float16)
    mine, ref = from_official(path), load_model(path, verbose=False)
    assert mine.config.rope_ratio == 50
    ids = torch.randint(0, 600, (1, 40))
    with torch.no_grad():
        assert float((mine(ids).logits - ref(input_ids=ids).logits).abs().max()) <= 1e-4


def test_export_official_format_loads_in_runtime(tmp_path, tiny_ckpt):
    """A from-scratch model saved with save_official() is read by common.chatglm3.load_model unchanged."""
    from common.chatglm3 import load_model

    torch.manual_seed(0)
    conf = ChatGLMConfig.from_json_file(tiny_ckpt)
    mine = ChatGLMForConditionalGeneration(conf).eval()
    out = save_official(mine, tmp_path / "export", tokenizer_file=tiny_ckpt / "tokenizer.model")
    ref = load_model(out, verbose=False)
    ids = torch.randint(0, conf.padded_vocab_size, (2, 10))
    with torch.no_grad():
        assert float((mine(ids).logits - ref(input_ids=ids).logits).abs().max()) <= 1e-4
    again = from_official(out)
    assert all(torch.equal(again.state_dict()[k], v) for k, v in mine.state_dict().items())


def test_verify_script_agrees_on_tiny_checkpoint(tiny_ckpt, capsys):
    from ch09_glm_from_scratch.verify_against_chatglm3 import VerifyConfig, main

    results = main(VerifyConfig(model=str(tiny_ckpt), prompts=["你好"], max_new_tokens=6))
    assert results["ok"] and results["same_tokens"] and results["max_abs_diff"] <= 1e-4
    assert "OK" in capsys.readouterr().out
