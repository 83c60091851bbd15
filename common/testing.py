"""Tiny official-format ChatGLM3 checkpoints for tests and benchmarks (built in seconds, no download).

``make_tiny_checkpoint`` trains a small sentencepiece model (byte fallback, so any text encodes) and writes random
weights with the official tensor names, so tests exercise exactly the loader path of the real ChatGLM3-6B.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Iterable

import torch

# 训练小分词器用的语料：中英文、数字、代码、工具 JSON，覆盖常见字符
_TINY_CORPUS = [
    "你好，我是人工智能助手 ChatGLM3-6B，很高兴见到你。",
    "北京今天的天气怎么样？上海明天会下雨吗？深圳、广州、杭州、成都。",
    "请帮我查询股票 600519 和 000001 的实时价格。",
    "Answer the following questions as best as you can. You have access to the following tools:",
    '{"name": "get_weather", "description": "Get the current weather for `city_name`"}',
    "```python\ntool_call(city_name='北京')\n```",
    "The quick brown fox jumps over the lazy dog. 0123456789",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "def hello():\n    return 'world'\n",
    "大模型的本地化部署、应用开发与微调。LoRA、QLoRA、P-Tuning v2。",
]


def train_sentencepiece(texts: Iterable[str], out_file: str | os.PathLike, vocab_size: int = 600,
                        model_type: str = "bpe", **kwargs) -> Path:
    """Train a ChatGLM3-style sentencepiece model (unk=0, bos=1, eos=2, byte fallback, digits split,
    identity normalisation so newlines and spaces survive) and write it to ``out_file``."""
    import sentencepiece as spm
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    options = dict(model_type=model_type, vocab_size=vocab_size, byte_fallback=True, split_digits=True,
                   character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                   normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
                   allow_whitespace_only_pieces=True, max_sentence_length=100000, minloglevel=2,
                   num_threads=1, train_extremely_large_corpus=False)
    options.update(kwargs)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(list(texts)), model_writer=buf, **options)
    out_file.write_bytes(buf.getvalue())
    return out_file


def tiny_official_config(n_words: int, **overrides) -> dict:
    """An official ``config.json`` dict for a tiny ChatGLM3 (vocab padded to a multiple of 64, like 6B's 65024)."""
    vocab = n_words + 9
    cfg = {
        "model_type": "chatglm", "num_layers": 2, "hidden_size": 64, "ffn_hidden_size": 96,
        "kv_channels": 16, "num_attention_heads": 4, "multi_query_attention": True, "multi_query_group_num": 2,
        "padded_vocab_size": (vocab + 63) // 64 * 64, "seq_length": 2048, "layernorm_epsilon": 1e-5,
        "rmsnorm": True, "add_qkv_bias": True, "add_bias_linear": False, "post_layer_norm": True,
        "apply_query_key_layer_scaling": True, "apply_residual_connection_post_layernorm": False,
        "tie_word_embeddings": False, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "float32",
    }
    cfg.update(overrides)
    return cfg


def random_official_state_dict(cfg: dict, seed: int = 0, dtype: torch.dtype = torch.float32,
                               std: float = 0.08) -> dict[str, torch.Tensor]:
    """Random tensors with the official ChatGLM3 names and shapes for ``cfg``."""
    g = torch.Generator().manual_seed(seed)
    h, ffn, L = cfg["hidden_size"], cfg["ffn_hidden_size"], cfg["num_layers"]
    heads, kv = cfg["num_attention_heads"], cfg["kv_channels"]
    groups = cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else heads
    qkv = heads * kv + 2 * groups * kv

    def rnd(*shape, scale=std):
        return (torch.randn(*shape, generator=g) * scale).to(dtype)

    def norm():
        return (1.0 + torch.randn(h, generator=g) * 0.1).to(dtype)

    sd = {"transformer.embedding.word_embeddings.weight": rnd(cfg["padded_vocab_size"], h, scale=1.0)}
    for i in range(L):
        p = f"transformer.encoder.layers.{i}."
        sd[p + "input_layernorm.weight"] = norm()
        sd[p + "self_attention.query_key_value.weight"] = rnd(qkv, h)
        if cfg.get("add_qkv_bias", True):
            sd[p + "self_attention.query_key_value.bias"] = rnd(qkv)
        sd[p + "self_attention.dense.weight"] = rnd(h, heads * kv)
        sd[p + "post_attention_layernorm.weight"] = norm()
        sd[p + "mlp.dense_h_to_4h.weight"] = rnd(2 * ffn, h)
        sd[p + "mlp.dense_4h_to_h.weight"] = rnd(h, ffn)
    sd["transformer.encoder.final_layernorm.weight"] = norm()
    sd["transformer.output_layer.weight"] = rnd(cfg["padded_vocab_size"], h)
    sd["transformer.rotary_pos_emb.inv_freq"] = torch.ones(kv // 4)  # present in official files, ignored
    return sd


def make_tiny_checkpoint(out_dir: str | os.PathLike, *, seed: int = 0, fmt: str = "safetensors", shards: int = 1,
                         vocab_size: int = 600, texts: Iterable[str] | None = None,
                         dtype: torch.dtype = torch.float32, **config_overrides) -> Path:
    """Write a tiny random official-format ChatGLM3 folder (config.json, tokenizer.model, weights).

    ``fmt`` is ``"safetensors"`` or ``"bin"``; ``shards > 1`` writes several files plus an index json, as the
    official 7-shard release does. Any official config key can be overridden (e.g. ``rope_ratio=50``)."""
    from .checkpoint import tokenizer_files, write_shards
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = list(texts) if texts is not None else _TINY_CORPUS * 3
    vocab_file = train_sentencepiece(corpus, out / "tokenizer.model", vocab_size=vocab_size)
    tokenizer_files(vocab_file, out)
    import sentencepiece as spm
    n_words = spm.SentencePieceProcessor(model_file=str(vocab_file)).vocab_size()
    cfg = tiny_official_config(n_words, **config_overrides)
    cfg["torch_dtype"] = str(dtype).replace("torch.", "")
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    sd = random_official_state_dict(cfg, seed=seed, dtype=dtype)
    write_shards(sd, out, safe_serialization=(fmt == "safetensors"), num_shards=shards)
    return out
