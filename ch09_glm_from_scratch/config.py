"""The configuration of a from-scratch GLM, with the field names of the official ChatGLM3 ``config.json``.

``ChatGLMConfig.from_dict(json.load(open("chatglm3-6b/config.json")))`` reads an official file;
``to_dict()`` writes one back (``model_type: chatglm``), so a model trained here can be saved in the official
layout and loaded by ``common.chatglm3.load_model``.

Only the ChatGLM3 variant of the architecture is implemented (RMSNorm, pre-norm, no linear biases except the
QKV bias, final norm, untied output layer); other switches in a config file are checked and refused with a clear
message rather than silently ignored.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

# 这些开关在 ChatGLM3 里取固定值；本章只实现这一种组合
_FIXED_SWITCHES = {
    "rmsnorm": True,
    "add_bias_linear": False,
    "post_layer_norm": True,
    "apply_residual_connection_post_layernorm": False,
    "tie_word_embeddings": False,
}


@dataclass
class ChatGLMConfig:
    """Sizes of a GLM in ChatGLM3's vocabulary (defaults: a tiny model that builds in milliseconds)."""

    num_layers: int = 2                 # number of GLMBlocks (28 in ChatGLM3-6B)
    hidden_size: int = 64               # width of the residual stream (4096)
    ffn_hidden_size: int = 172          # SwiGLU inner width (13696 ≈ 3.34 × hidden)
    kv_channels: int = 16               # head_dim (128)
    num_attention_heads: int = 4        # query heads (32)
    multi_query_group_num: int = 2      # K/V heads shared by groups of query heads (2)
    padded_vocab_size: int = 512        # rows of the embedding / output layer (65024)
    layernorm_epsilon: float = 1e-5
    rope_ratio: float = 1.0             # RoPE base = 10000 * rope_ratio (50 in ChatGLM3-6B-32K)
    add_qkv_bias: bool = True
    seq_length: int = 2048              # context length the model was trained for (8192)
    eos_token_id: int = 2
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.num_attention_heads % self.multi_query_group_num:
            raise ValueError("num_attention_heads must be a multiple of multi_query_group_num")
        if self.kv_channels % 4:
            raise ValueError("kv_channels must be a multiple of 4 (RoPE rotates pairs in the first half)")

    @property
    def head_dim(self) -> int:
        return self.kv_channels

    @classmethod
    def chatglm3_6b(cls, **overrides) -> "ChatGLMConfig":
        """The sizes of the official ChatGLM3-6B (``rope_ratio=50, seq_length=32768`` gives the 32K model)."""
        from common.checkpoint import CHATGLM3_6B_CONFIG

        return cls.from_dict({**CHATGLM3_6B_CONFIG, "rope_ratio": 1.0, **overrides})

    @classmethod
    def from_dict(cls, d: dict) -> "ChatGLMConfig":
        """Build from an official ChatGLM3 ``config.json`` dict (unknown keys are ignored)."""
        if d.get("model_type", "chatglm") != "chatglm":
            raise ValueError(f"not a ChatGLM config: model_type={d.get('model_type')!r}")
        for key, expected in _FIXED_SWITCHES.items():
            if key in d and bool(d[key]) != expected:
                raise ValueError(f"config.json has {key}={d[key]!r}; this chapter implements ChatGLM3's "
                                 f"{key}={expected} only")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in names and v is not None}
        # 官方 multi_query_attention=false 时每个头都有自己的 K/V（普通多头注意力）
        if not d.get("multi_query_attention", True):
            values["multi_query_group_num"] = d.get("num_attention_heads", cls.num_attention_heads)
        if isinstance(values.get("eos_token_id"), list):
            values["eos_token_id"] = values["eos_token_id"][0]
        return cls(**values)

    @classmethod
    def from_json_file(cls, path: str | Path) -> "ChatGLMConfig":
        """Read ``config.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def to_dict(self) -> dict:
        """An official-format ``config.json`` dict (``model_type: chatglm``)."""
        d = {"model_type": "chatglm", "architectures": ["ChatGLMModel"]}
        d.update(asdict(self))
        d.update(_FIXED_SWITCHES)
        d.update(multi_query_attention=self.multi_query_group_num < self.num_attention_heads,
                 apply_query_key_layer_scaling=True, attention_softmax_in_fp32=True, fp32_residual_connection=False,
                 hidden_dropout=0.0, attention_dropout=0.0, original_rope=True, torch_dtype="float32")
        return d
