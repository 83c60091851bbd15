"""Official ChatGLM3 checkpoints <-> transformers' native ``GlmForCausalLM`` (no remote code).

The official files (``config.json`` with ``model_type: chatglm``, ``pytorch_model-*.bin`` and/or
``model-*.safetensors`` with an index) are read tensor by tensor and mapped onto ``GlmForCausalLM``:
``query_key_value`` is split into ``q_proj``/``k_proj``/``v_proj`` (rows: Q | K | V), the rest is renamed.
The model is built on the meta device and each tensor is assigned as it is read, so loading a 6B checkpoint never
holds two full copies of the weights. ``rope_ratio`` (6B-32K / 128K) becomes ``rope_theta = 10000 * rope_ratio``.
"""
from __future__ import annotations

import gc
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import torch

if TYPE_CHECKING:  # transformers is imported where a model is built: reading configs and files stays light
    from transformers import GlmConfig, GlmForCausalLM

WEIGHTS_INDEX_NAMES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_LAYER_RE = re.compile(r"^transformer\.encoder\.layers\.(\d+)\.(.+)$")


class CheckpointError(ValueError):
    """A model folder that is not a usable ChatGLM3 / GLM checkpoint (the message says why and what to do)."""


# ---------------------------------------------------------------------------------------------- config
# The official ChatGLM3-6B config.json (THUDM/chatglm3-6b), the one place its shape is written down: benchmarks build
# random checkpoints of this shape, ch09 compares its from-scratch model with it, ch10 counts LoRA parameters on it.
CHATGLM3_6B_CONFIG = {
    "model_type": "chatglm", "num_layers": 28, "hidden_size": 4096, "ffn_hidden_size": 13696, "kv_channels": 128,
    "num_attention_heads": 32, "multi_query_attention": True, "multi_query_group_num": 2, "padded_vocab_size": 65024,
    "seq_length": 8192, "layernorm_epsilon": 1e-5, "rmsnorm": True, "add_qkv_bias": True, "add_bias_linear": False,
    "post_layer_norm": True, "apply_query_key_layer_scaling": True, "apply_residual_connection_post_layernorm": False,
    "tie_word_embeddings": False, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": "bfloat16",
}


def parameter_count(cfg: dict) -> dict[str, int]:
    """Parameters of an official ChatGLM3 config by kind (arithmetic, no weights): ``linear`` (block linear
    weights), ``embedding`` (input embedding + output layer), ``total``, and ``qkv_out`` (rows of the fused
    query_key_value layer). ChatGLM3-6B: 6,243,584,000 in total."""
    h, ffn, layers, vocab = cfg["hidden_size"], cfg["ffn_hidden_size"], cfg["num_layers"], cfg["padded_vocab_size"]
    groups = cfg["multi_query_group_num"] if cfg.get("multi_query_attention", True) else cfg["num_attention_heads"]
    q_out = cfg["num_attention_heads"] * cfg["kv_channels"]
    qkv_out = q_out + 2 * groups * cfg["kv_channels"]
    linear = layers * (h * qkv_out + q_out * h + h * 2 * ffn + ffn * h)
    embedding = vocab * h * (1 if cfg.get("tie_word_embeddings") else 2)
    small = layers * (2 * h + (qkv_out if cfg.get("add_qkv_bias", True) else 0)) + h   # norms and the qkv bias
    return {"linear": linear, "embedding": embedding, "total": linear + embedding + small, "qkv_out": qkv_out}


def read_config(model_dir: str | os.PathLike) -> dict:
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path} not found: a model folder needs config.json (and tokenizer.model, weights).")
    return json.loads(path.read_text(encoding="utf-8"))


def is_official_config(cfg: dict) -> bool:
    return cfg.get("model_type") == "chatglm"


def glm_config_from_chatglm(cfg: dict) -> GlmConfig:
    """Translate an official ChatGLM3 ``config.json`` dict into a native ``GlmConfig``."""
    unsupported = {
        "rmsnorm": (True, "ChatGLM-6B v1 style LayerNorm"),
        "post_layer_norm": (True, "no final layer norm"),
        "add_bias_linear": (False, "biases on dense layers"),
        "apply_residual_connection_post_layernorm": (False, "post-norm residuals"),
    }
    for key, (want, what) in unsupported.items():
        if key in cfg and bool(cfg[key]) != want:
            raise CheckpointError(f"config.json has {key}={cfg[key]} ({what}); only the ChatGLM2/3 layout "
                                  "is supported (rmsnorm, post_layer_norm, no dense biases).")
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("multi_query_group_num", heads) if cfg.get("multi_query_attention", False) else heads
    hidden = cfg["hidden_size"]
    head_dim = cfg.get("kv_channels", hidden // heads)
    rope_theta = 10000.0 * float(cfg.get("rope_ratio", 1.0))
    eos = cfg.get("eos_token_id", 2)
    from transformers import GlmConfig
    return GlmConfig(
        vocab_size=cfg["padded_vocab_size"],
        hidden_size=hidden,
        intermediate_size=cfg["ffn_hidden_size"],
        num_hidden_layers=cfg["num_layers"],
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        hidden_act="silu",
        max_position_embeddings=cfg.get("seq_length", 8192),
        rms_norm_eps=cfg.get("layernorm_epsilon", 1e-5),
        attention_bias=bool(cfg.get("add_qkv_bias", True)),
        tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": rope_theta, "partial_rotary_factor": 0.5},
        pad_token_id=cfg.get("pad_token_id", 0),
        eos_token_id=eos,
        bos_token_id=None,
        torch_dtype=cfg.get("torch_dtype", "float16"),
    )


def chatglm_config_from_glm(config: GlmConfig, seq_length: int | None = None) -> dict:
    """The official ``config.json`` dict for a ``GlmConfig`` (used to save in the official layout)."""
    rope = config.rope_parameters or {}
    if abs(rope.get("partial_rotary_factor", 0.5) - 0.5) > 1e-9:
        raise CheckpointError("ChatGLM3 rotates exactly half of each head (partial_rotary_factor 0.5).")
    rope_ratio = float(rope.get("rope_theta", 10000.0)) / 10000.0
    dtype = config.dtype if isinstance(getattr(config, "dtype", None), str) else None
    if dtype is None and getattr(config, "dtype", None) is not None:
        dtype = str(config.dtype).replace("torch.", "")
    out = {
        "_name_or_path": "chatglm3",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
            "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
        "add_bias_linear": False,
        "add_qkv_bias": bool(config.attention_bias),
        "apply_query_key_layer_scaling": True,
        "apply_residual_connection_post_layernorm": False,
        "attention_dropout": 0.0,
        "attention_softmax_in_fp32": True,
        "bias_dropout_fusion": True,
        "ffn_hidden_size": config.intermediate_size,
        "fp32_residual_connection": False,
        "hidden_dropout": 0.0,
        "hidden_size": config.hidden_size,
        "kv_channels": config.head_dim,
        "layernorm_epsilon": config.rms_norm_eps,
        "multi_query_attention": config.num_key_value_heads != config.num_attention_heads,
        "multi_query_group_num": config.num_key_value_heads,
        "num_attention_heads": config.num_attention_heads,
        "num_layers": config.num_hidden_layers,
        "original_rope": True,
        "padded_vocab_size": config.vocab_size,
        "post_layer_norm": True,
        "rmsnorm": True,
        "seq_length": seq_length or config.max_position_embeddings,
        "use_cache": True,
        "torch_dtype": dtype or "float32",
        "transformers_version": "4.30.2",
        "tie_word_embeddings": False,
        "eos_token_id": 2,
        "pad_token_id": 0,
    }
    if rope_ratio != 1.0:
        out["rope_ratio"] = rope_ratio
    return out


# ---------------------------------------------------------------------------------------------- names
def glm_names_for(official_name: str, config: GlmConfig) -> list[tuple[str, slice | None]]:
    """Native parameter name(s) an official tensor goes to, with the row slice of each part."""
    if official_name.endswith("rotary_pos_emb.inv_freq"):
        return []
    if official_name == "transformer.embedding.word_embeddings.weight":
        return [("model.embed_tokens.weight", None)]
    if official_name == "transformer.encoder.final_layernorm.weight":
        return [("model.norm.weight", None)]
    if official_name == "transformer.output_layer.weight":
        return [("lm_head.weight", None)]
    m = _LAYER_RE.match(official_name)
    if not m:
        raise CheckpointError(f"unexpected tensor {official_name!r} in a ChatGLM3 checkpoint")
    i, rest = m.group(1), m.group(2)
    p = f"model.layers.{i}."
    if rest.startswith("self_attention.query_key_value."):
        kind = rest.rsplit(".", 1)[1]  # weight | bias
        q = config.num_attention_heads * config.head_dim
        kv = config.num_key_value_heads * config.head_dim
        return [(p + f"self_attn.q_proj.{kind}", slice(0, q)),
                (p + f"self_attn.k_proj.{kind}", slice(q, q + kv)),
                (p + f"self_attn.v_proj.{kind}", slice(q + kv, q + 2 * kv))]
    simple = {
        "input_layernorm.weight": "input_layernorm.weight",
        "post_attention_layernorm.weight": "post_attention_layernorm.weight",
        "self_attention.dense.weight": "self_attn.o_proj.weight",
        "mlp.dense_h_to_4h.weight": "mlp.gate_up_proj.weight",
        "mlp.dense_4h_to_h.weight": "mlp.down_proj.weight",
    }
    if rest not in simple:
        raise CheckpointError(f"unexpected tensor {official_name!r} in a ChatGLM3 checkpoint")
    return [(p + simple[rest], None)]


def glm_state_dict_from_chatglm(sd: dict[str, torch.Tensor], config: GlmConfig) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in sd.items():
        for new, rows in glm_names_for(name, config):
            out[new] = t if rows is None else t[rows]
    return out


def chatglm_state_dict_from_glm(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official ChatGLM3 tensor names for a ``GlmForCausalLM`` state dict (q/k/v fused back)."""
    out: dict[str, torch.Tensor] = {}
    layers: dict[str, dict[str, torch.Tensor]] = {}
    for name, t in sd.items():
        if name == "model.embed_tokens.weight":
            out["transformer.embedding.word_embeddings.weight"] = t
        elif name == "model.norm.weight":
            out["transformer.encoder.final_layernorm.weight"] = t
        elif name == "lm_head.weight":
            out["transformer.output_layer.weight"] = t
        else:
            m = re.match(r"^model\.layers\.(\d+)\.(.+)$", name)
            if not m:
                raise CheckpointError(f"unexpected GLM tensor {name!r}")
            layers.setdefault(m.group(1), {})[m.group(2)] = t
    rename = {
        "input_layernorm.weight": "input_layernorm.weight",
        "post_attention_layernorm.weight": "post_attention_layernorm.weight",
        "self_attn.o_proj.weight": "self_attention.dense.weight",
        "mlp.gate_up_proj.weight": "mlp.dense_h_to_4h.weight",
        "mlp.down_proj.weight": "mlp.dense_4h_to_h.weight",
    }
    for i, parts in sorted(layers.items(), key=lambda kv: int(kv[0])):
        p = f"transformer.encoder.layers.{i}."
        for kind in ("weight", "bias"):
            qkv = [parts.get(f"self_attn.{x}_proj.{kind}") for x in "qkv"]
            if all(x is not None for x in qkv):
                out[p + f"self_attention.query_key_value.{kind}"] = torch.cat(qkv, dim=0)
        for old, new in rename.items():
            if old in parts:
                out[p + new] = parts[old]
    return out


# ---------------------------------------------------------------------------------------------- reading
def weight_files(model_dir: str | os.PathLike) -> list[Path]:
    """Weight files of a folder: from the index when there is one, safetensors preferred over .bin."""
    d = Path(model_dir)
    for index_name in WEIGHTS_INDEX_NAMES:
        index = d / index_name
        if index.is_file():
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            missing = [f for f in files if not (d / f).is_file()]
            if missing:
                raise CheckpointError(f"{index} lists {len(missing)} missing shard(s), e.g. {missing[0]}: "
                                      "the download is incomplete; fetch the missing files.")
            return [d / f for f in files]
    for pattern in ("*.safetensors", "pytorch_model*.bin"):
        files = sorted(d.glob(pattern))
        if files:
            return files
    raise CheckpointError(f"no weights in {d}: expected model-*.safetensors or pytorch_model-*.bin "
                          "(the 12 GB ChatGLM3-6B weights download may be missing).")


def iter_checkpoint_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) one at a time; .bin shards are memory-mapped, safetensors read lazily."""
    for f in files:
        if f.suffix == ".safetensors":
            from safetensors import safe_open
            with safe_open(str(f), framework="pt", device="cpu") as sf:
                for name in sf.keys():
                    yield name, sf.get_tensor(name)
        else:
            try:
                sd = torch.load(str(f), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # old (non-zip) serialization cannot be mmapped
                sd = torch.load(str(f), map_location="cpu", weights_only=True)
            for name in list(sd.keys()):
                yield name, sd.pop(name)
            del sd
            # a .bin shard was a whole state dict; safetensors are read tensor by tensor, nothing to collect (a
            # full collection after torch + transformers are imported costs ~0.4 s: most of the demo model's load)
            gc.collect()


def load_glm_from_official(model_dir: str | os.PathLike, dtype: torch.dtype = torch.float32,
                           device: str | torch.device = "cpu",
                           on_module_ready: Callable[[torch.nn.Module, str], None] | None = None
                           ) -> GlmForCausalLM:
    """Build ``GlmForCausalLM`` from an official-format folder without ever holding two copies of the weights.

    ``on_module_ready(model, module_name)`` is called as soon as every parameter of a module has been read (the
    INT8/INT4 loader quantizes each Linear right then, so full-precision weights never pile up)."""
    from transformers import GlmForCausalLM
    cfg = read_config(model_dir)
    config = glm_config_from_chatglm(cfg)
    config.dtype = dtype
    with torch.device("meta"):
        model = GlmForCausalLM(config)
    params = dict(model.named_parameters())
    seen: set[str] = set()
    for name, tensor in iter_checkpoint_tensors(weight_files(model_dir)):
        for new, rows in glm_names_for(name, config):
            if new not in params:
                raise CheckpointError(f"{name} maps to {new}, which the model does not have")
            part = tensor if rows is None else tensor[rows]
            expected = params[new].shape
            if tuple(part.shape) != tuple(expected):
                raise CheckpointError(f"{name}: shape {tuple(part.shape)} does not match config ({tuple(expected)})"
                                      " — config.json and the weights are from different models.")
            # copy=True: safetensors / mmap-ed .bin tensors are views of the whole file; a view kept in the
            # model would pin every page of its shard in memory even after that layer was quantized
            part = part.to(device=device, dtype=dtype, copy=True).contiguous()
            _assign(model, new, part)
            seen.add(new)
            if on_module_ready is not None:
                module_name = new.rsplit(".", 1)[0]
                module = model.get_submodule(module_name)
                if all(not p.is_meta for p in module.parameters(recurse=False)):
                    on_module_ready(model, module_name)
        del tensor
    missing = sorted(set(params) - seen)
    if missing:
        raise CheckpointError(f"{len(missing)} tensor(s) missing from the checkpoint, e.g. {missing[0]}")
    _reset_rotary(model, device)
    model.eval()
    return model


def _assign(model: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    module_name, attr = name.rsplit(".", 1)
    module = model.get_submodule(module_name)
    # like from_pretrained: trainable parameters (inference runs under torch.inference_mode anyway)
    setattr(module, attr, torch.nn.Parameter(value, requires_grad=value.is_floating_point()))


def _reset_rotary(model: GlmForCausalLM, device: str | torch.device) -> None:
    """Rotary buffers are not in the checkpoint; rebuild them on the real device (they were meta)."""
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding
    with torch.device(device):
        model.model.rotary_emb = GlmRotaryEmbedding(model.config)


# ---------------------------------------------------------------------------------------------- writing
def save_official_checkpoint(model: GlmForCausalLM, out_dir: str | os.PathLike, tokenizer=None,
                             dtype: torch.dtype | None = None, max_shard_bytes: int = 2 * 1024**3,
                             safe_serialization: bool = True, seq_length: int | None = None) -> Path:
    """Write ``model`` in the official ChatGLM3 layout (config.json ``model_type: chatglm``, sharded weights with an
    index, tokenizer.model + tokenizer_config.json). Loadable by this repo and by the official remote code."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to("cpu") for k, v in model.state_dict().items()}
    sd = chatglm_state_dict_from_glm(sd)
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    else:
        dtype = next(iter(sd.values())).dtype
    cfg = chatglm_config_from_glm(model.config, seq_length=seq_length)
    cfg["torch_dtype"] = str(dtype).replace("torch.", "")
    (out / "config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_shards(sd, out, max_shard_bytes=max_shard_bytes, safe_serialization=safe_serialization)
    if tokenizer is not None:
        tokenizer_files(tokenizer.vocab_file, out)
    return out


def write_shards(sd: dict[str, torch.Tensor], out: Path, max_shard_bytes: int | None = None,
                 safe_serialization: bool = True, num_shards: int | None = None) -> None:
    """Write ``sd`` as the official release does: ``model-0000k-of-0000n.safetensors`` (or ``pytorch_model-…bin``)
    plus an index json when there is more than one file. Split by size, or into ``num_shards`` equal counts."""
    names = list(sd)
    if num_shards:
        per = -(-len(names) // num_shards)
        shards = [dict((k, sd[k]) for k in names[i:i + per]) for i in range(0, len(names), per)]
    else:
        shards, size = [{}], 0
        for name in names:
            nbytes = sd[name].numel() * sd[name].element_size()
            if shards[-1] and max_shard_bytes and size + nbytes > max_shard_bytes:
                shards.append({})
                size = 0
            shards[-1][name] = sd[name]
            size += nbytes
    n = len(shards)
    ext, prefix = ("safetensors", "model") if safe_serialization else ("bin", "pytorch_model")
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        shard = {k: t.contiguous() for k, t in shard.items()}
        fname = f"{prefix}-{i:05d}-of-{n:05d}.{ext}" if n > 1 else f"{prefix}.{ext}"
        if safe_serialization:
            from safetensors.torch import save_file
            save_file(shard, str(out / fname), metadata={"format": "pt"})
        else:
            torch.save(shard, out / fname)
        for k, t in shard.items():
            weight_map[k] = fname
            total += t.numel() * t.element_size()
    if n > 1:
        index_name = "model.safetensors.index.json" if safe_serialization else "pytorch_model.bin.index.json"
        (out / index_name).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                                                 indent=2) + "\n", encoding="utf-8")


def tokenizer_files(vocab_file: str | os.PathLike, out: Path) -> None:
    """Copy tokenizer.model and write the official tokenizer_config.json beside it."""
    if Path(vocab_file).resolve() != (out / "tokenizer.model").resolve():
        shutil.copyfile(vocab_file, out / "tokenizer.model")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "name_or_path": "THUDM/chatglm3-6b",
        "remove_space": False,
        "do_lower_case": False,
        "tokenizer_class": "ChatGLMTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]},
    }, indent=2) + "\n", encoding="utf-8")


def convert_to_native(src: str | os.PathLike, dst: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
    """One-time conversion: official folder -> a native transformers folder (``GlmForCausalLM.from_pretrained``)."""
    cfg = read_config(src)
    if dtype is None:
        dtype = getattr(torch, cfg.get("torch_dtype", "float16"))
    model = load_glm_from_official(src, dtype=dtype)
    dst = Path(dst)
    model.save_pretrained(dst)
    from .tokenizer import load_chatglm3_tokenizer
    load_chatglm3_tokenizer(src).save_pretrained(dst)
    return dst
