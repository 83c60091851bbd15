"""9.2.2 自定义GLM模型 — the whole ChatGLM3 model from the pieces of 9.1, with the official parameter names.

    input_ids -> transformer.embedding.word_embeddings -> N × GLMBlock (transformer.encoder.layers.N)
              -> transformer.encoder.final_layernorm -> transformer.output_layer (untied) -> logits

Because every parameter has the name it has in the official checkpoint, an official ``state_dict`` loads with
plain ``model.load_state_dict(official_tensors)`` (the stored ``rotary_pos_emb.inv_freq`` is ignored: it is
recomputed in fp32), and ``save_official(model, dir)`` writes a folder that ``common.chatglm3.load_model``
reads like a real ChatGLM3 checkpoint. ``verify_against_chatglm3.py`` proves the logits match.
Text generation with a KV cache (greedy, temperature, top-k, top-p, repetition penalty) is in ``generate.py``.

Run:  python ch09_glm_from_scratch/model.py   (6B parameter count, a tiny model's forward/loss)
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch09_glm_from_scratch.attention import KVCache
from ch09_glm_from_scratch.block import GLMBlock, RMSNorm
from common.cli import arg
from ch09_glm_from_scratch.config import ChatGLMConfig
from ch09_glm_from_scratch.mask import IGNORE_INDEX, attention_mask_4d
from ch09_glm_from_scratch.rope import RotaryEmbedding


@dataclass
class CausalLMOutput:
    logits: torch.Tensor                                  # [batch, seq (or 1), padded_vocab_size]
    loss: torch.Tensor | None = None                      # when labels were given
    past_key_values: list[KVCache] | None = None          # one (k, v) per layer, when use_cache


class Embedding(nn.Module):
    """``transformer.embedding``: token id -> vector (ChatGLM3 has no position embedding here: RoPE does it)."""

    def __init__(self, config: ChatGLMConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.padded_vocab_size, config.hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.word_embeddings(input_ids)


class GLMTransformer(nn.Module):
    """``transformer.encoder``: the stack of GLMBlocks and the final RMSNorm."""

    def __init__(self, config: ChatGLMConfig):
        super().__init__()
        self.layers = nn.ModuleList(GLMBlock(config, i + 1) for i in range(config.num_layers))
        self.final_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon)

    def forward(self, x, cos, sin, mask, past_key_values=None):
        presents = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, cos, sin, mask, None if past_key_values is None else past_key_values[i])
            presents.append(kv)
        return self.final_layernorm(x), presents


class ChatGLMModel(nn.Module):
    """``transformer``: embedding, rotary embedding, encoder and the (untied) output layer."""

    def __init__(self, config: ChatGLMConfig):
        super().__init__()
        self.embedding = Embedding(config)
        self.rotary_pos_emb = RotaryEmbedding(config.kv_channels, config.rope_ratio)
        self.encoder = GLMTransformer(config)
        self.output_layer = nn.Linear(config.hidden_size, config.padded_vocab_size, bias=False)

    def forward(self, input_ids, position_ids=None, attention_mask=None, past_key_values=None,
                return_last_logit=False):
        b, s = input_ids.shape
        past_len = 0 if past_key_values is None else past_key_values[0][0].shape[2]
        if position_ids is None:  # ChatGLM3 的位置就是 0,1,2,...（接着缓存往后数）
            position_ids = torch.arange(past_len, past_len + s, device=input_ids.device)
        cos, sin = self.rotary_pos_emb(position_ids)
        mask = attention_mask_4d(s, past_len, attention_mask, device=input_ids.device)
        hidden, presents = self.encoder(self.embedding(input_ids), cos, sin, mask, past_key_values)
        if return_last_logit:  # 生成时只需要最后一个位置的 logits，省掉大词表的矩阵乘
            hidden = hidden[:, -1:]
        return self.output_layer(hidden), presents


class ChatGLMForConditionalGeneration(nn.Module):
    """The from-scratch ChatGLM3 (same module tree and names as the official class of this name)."""

    def __init__(self, config: ChatGLMConfig, init_std: float = 0.02):
        super().__init__()
        self.config = config
        self.transformer = ChatGLMModel(config)
        self.init_weights(init_std)

    @torch.no_grad()
    def init_weights(self, std: float = 0.02) -> None:
        """GPT-2 style init for training from scratch (loading a checkpoint overwrites it)."""
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif name.endswith(("dense.weight", "dense_4h_to_h.weight")):
                # 写回残差流的矩阵按层数缩小，深层网络一开始不至于越加越大
                p.normal_(0.0, std / (2 * self.config.num_layers) ** 0.5)
            else:
                p.normal_(0.0, std)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                past_key_values: list[KVCache] | None = None, use_cache: bool = False,
                return_last_logit: bool = False) -> CausalLMOutput:
        """``labels`` are NOT shifted (like ChatGLM3 / transformers): the loss compares logits[t] with labels[t+1].
        ``attention_mask`` [b, past+s]: 1 = token, 0 = padding."""
        logits, presents = self.transformer(input_ids, position_ids, attention_mask, past_key_values,
                                            return_last_logit)
        loss = None
        if labels is not None:  # “错位”：第 t 个位置的输出预测第 t+1 个 token
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                   ignore_index=IGNORE_INDEX)
        return CausalLMOutput(logits=logits, loss=loss, past_key_values=presents if use_cache else None)

    @property
    def device(self) -> torch.device:
        return self.transformer.output_layer.weight.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_official(model: ChatGLMForConditionalGeneration, out_dir: str | Path, tokenizer_file: str | Path | None = None,
                  dtype: torch.dtype | None = None) -> Path:
    """Write ``config.json`` (``model_type: chatglm``) + ``model.safetensors`` (+ ``tokenizer.model``).

    The tensor names are already the official ones, so the state dict is saved as it is.
    """
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    tensors = {k: v.detach().to(dtype or v.dtype).contiguous().cpu() for k, v in model.state_dict().items()}
    config["torch_dtype"] = str(next(iter(tensors.values())).dtype).removeprefix("torch.")
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    if tokenizer_file is not None:
        shutil.copyfile(tokenizer_file, out_dir / "tokenizer.model")
    return out_dir


def from_official(model_dir: str | Path, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> ChatGLMForConditionalGeneration:
    """The from-scratch model with the weights of an official ChatGLM3 folder (eval mode).

    The files are read by ``common.checkpoint`` (sharded .bin or .safetensors); each official tensor goes into
    the model with plain ``load_state_dict`` — the names already match — one tensor at a time, so a 6B model
    never sits in memory twice.
    """
    from common.checkpoint import iter_checkpoint_tensors, weight_files

    config = ChatGLMConfig.from_json_file(model_dir)
    with torch.device("meta"):  # 先只建“骨架”，不花时间做随机初始化
        model = ChatGLMForConditionalGeneration(config)
    model.to(dtype).to_empty(device=device)  # 分配内存（不初始化）：马上会被官方权重覆盖
    model.transformer.rotary_pos_emb.reset(device)
    expected, loaded = set(model.state_dict()), set()
    for name, tensor in iter_checkpoint_tensors(weight_files(model_dir)):
        result = model.load_state_dict({name: tensor}, strict=False)
        if result.unexpected_keys:
            raise KeyError(f"{name} is not a parameter of the from-scratch ChatGLM3 — not a ChatGLM3 checkpoint?")
        loaded.add(name)
    missing = sorted(expected - loaded)
    if missing:
        raise KeyError(f"{len(missing)} tensors missing from {model_dir}, e.g. {missing[0]}")
    return model.eval()


# ============================================================================================ checkpoints of train.py
CHECKPOINT_NAME = "checkpoint.pt"


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by train.py's trainer (``weights_only``: no pickled code is ever executed)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def default_out_dir() -> Path:
    """Where ``python train.py`` (default flags) writes."""
    from common.paths import output_dir

    return output_dir("ch09", "train")


def default_checkpoint() -> Path:
    """Where ``python train.py`` (default flags) writes its checkpoint."""
    return default_out_dir() / CHECKPOINT_NAME


def load_trained(path: str | Path, device: str = "cpu"):
    """(model, tokenizer) from a checkpoint written by train.py (eval mode)."""
    from ch09_glm_from_scratch.corpus import tokenizer_from_state
    from common.cli import UserError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}. To fix: train one first with "
                        f"`python ch09_glm_from_scratch/train.py`")
    state = read_checkpoint(path)
    model = ChatGLMForConditionalGeneration(ChatGLMConfig(**state["extra"]["model_config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), tokenizer_from_state(state["extra"]["tokenizer"])


# ============================================================================================ the script
@dataclass
class ModelDemoConfig:
    num_layers: int = arg(2, "layers of the tiny random model")
    hidden_size: int = arg(64, "hidden size of the tiny random model")
    prompt_len: int = arg(16, "prompt tokens of the tiny model's forward pass")
    seed: int = arg(0, "random seed")


def main(cfg: ModelDemoConfig | None = None) -> dict:
    """Count ChatGLM3-6B's parameters on the meta device; run a tiny model's forward pass and loss."""
    cfg = cfg or ModelDemoConfig()
    torch.manual_seed(cfg.seed)
    with torch.device("meta"):
        big = ChatGLMForConditionalGeneration(ChatGLMConfig.chatglm3_6b())
    n_big = big.num_parameters()
    print(f"ChatGLM3-6B from scratch: {n_big:,} parameters ({n_big / 1e9:.2f} B); first and last names:")
    names = list(big.state_dict())
    for name in names[:4] + ["..."] + names[-3:]:
        print(f"  {name}")

    conf = ChatGLMConfig(num_layers=cfg.num_layers, hidden_size=cfg.hidden_size,
                         kv_channels=cfg.hidden_size // 4, num_attention_heads=4, ffn_hidden_size=172)
    model = ChatGLMForConditionalGeneration(conf).eval()
    ids = torch.randint(0, conf.padded_vocab_size, (1, cfg.prompt_len))
    with torch.no_grad():
        out = model(ids, labels=ids)
    print(f"\ntiny model ({model.num_parameters():,} params): logits {list(out.logits.shape)}, "
          f"loss {out.loss:.3f} (random init ≈ ln({conf.padded_vocab_size}) = "
          f"{torch.log(torch.tensor(float(conf.padded_vocab_size))):.3f})")
    print("generation with and without the KV cache: python ch09_glm_from_scratch/generate.py")
    return {"params_6b": n_big, "tiny_loss": float(out.loss)}


if __name__ == "__main__":
    from common.cli import run

    run(main, ModelDemoConfig, __doc__)
