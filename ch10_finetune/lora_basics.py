"""10.1–10.2 LoRA 从零实现，再用 PEFT 做同一件事，并证明两者等价。

LoRA freezes a pretrained weight ``W`` (out x in) and learns a low-rank update ``ΔW = (alpha / r) · B A`` with
``A`` (r x in, random) and ``B`` (out x r, zeros — so training starts exactly at the pretrained model). Only
``r · (in + out)`` numbers per layer are trained; after training ``ΔW`` can be merged into ``W`` and inference
costs nothing extra.

This script, on the resolved model (the built-in demo model unless ``--model`` / ``CHATGLM3_MODEL`` says otherwise):

1. wraps the target ``nn.Linear`` layers of transformers' ``GlmForCausalLM`` (``q_proj k_proj v_proj o_proj
   gate_up_proj down_proj``; the official ChatGLM3 code calls q/k/v ``query_key_value``) in a from-scratch
   ``LoRALinear`` and counts trainable parameters;
2. fills ``B`` with random numbers (as if trained), merges, and shows that the merged model gives the same logits;
3. does the same with PEFT (``LoraConfig`` + ``get_peft_model`` + ``print_trainable_parameters``), copies our
   ``A``/``B`` into PEFT's ``lora_A``/``lora_B`` and shows identical logits (PEFT computes exactly our formula),
   then ``merge_and_unload()``;
4. prints the same arithmetic for ChatGLM3-6B (28 layers, hidden 4096, FFN 13696, 2 KV groups): r=8 on the official
   fused ``query_key_value`` gives 1,949,696 trainable parameters — the number PEFT prints for the real model.
"""
from __future__ import annotations

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import math
from dataclasses import dataclass

import torch
from torch import nn

from common.checkpoint import CHATGLM3_6B_CONFIG, parameter_count
from common.cli import ModelArgs, arg, run
from common.quant import replace_module

# transformers' GlmForCausalLM linear layers; PEFT has no default mapping for model_type "glm", so name them
GLM_ATTENTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
GLM_MLP_MODULES = ["gate_up_proj", "down_proj"]
GLM_ALL_LINEAR = GLM_ATTENTION_MODULES + GLM_MLP_MODULES


class LoRALinear(nn.Module):
    """``y = base(x) + (alpha / r) · dropout(x) Aᵀ Bᵀ`` with the base layer frozen (PEFT's formula and init)."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        dev, dt = base.weight.device, base.weight.dtype
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=dev, dtype=dt))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=dev, dtype=dt))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))   # same init as PEFT / the LoRA paper's code
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with ``W + ΔW`` (inference then costs nothing extra)."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                        device=self.base.weight.device, dtype=self.base.weight.dtype)
        with torch.no_grad():
            out.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                out.bias.copy_(self.base.bias)
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, in={self.base.in_features}, out={self.base.out_features}"


def inject_lora(model: nn.Module, target_modules: list[str], r: int = 8, alpha: float = 16.0,
                dropout: float = 0.0) -> list[str]:
    """Freeze ``model`` and wrap every ``nn.Linear`` whose name ends with a target in ``LoRALinear``."""
    for p in model.parameters():
        p.requires_grad_(False)
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and n.rsplit(".", 1)[-1] in target_modules]
    for n in names:
        replace_module(model, n, LoRALinear(model.get_submodule(n), r=r, alpha=alpha, dropout=dropout))
    return names


def merge_lora(model: nn.Module) -> int:
    """Replace every ``LoRALinear`` by its merged ``nn.Linear``; returns how many were merged."""
    names = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    for n in names:
        replace_module(model, n, model.get_submodule(n).merged())
    return len(names)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def glm_linear_shapes(hidden: int, ffn: int, heads: int, kv_groups: int, head_dim: int) -> dict[str, tuple]:
    """(in, out) of each linear layer of one GLM block."""
    return {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv_groups * head_dim),
            "v_proj": (hidden, kv_groups * head_dim), "o_proj": (heads * head_dim, hidden),
            "gate_up_proj": (hidden, 2 * ffn), "down_proj": (ffn, hidden)}


def lora_param_count(shapes: dict[str, tuple], targets: list[str], r: int, layers: int) -> int:
    """Trainable LoRA parameters: r · (in + out) per target layer, times the number of blocks."""
    return layers * sum(r * (shapes[t][0] + shapes[t][1]) for t in targets)


def _six_b() -> dict:
    """ChatGLM3-6B's sizes under the names used here (from the one official config in common.checkpoint)."""
    c = CHATGLM3_6B_CONFIG
    return {"layers": c["num_layers"], "hidden": c["hidden_size"], "ffn": c["ffn_hidden_size"],
            "heads": c["num_attention_heads"], "kv_groups": c["multi_query_group_num"], "head_dim": c["kv_channels"],
            "vocab": c["padded_vocab_size"], "total_params": parameter_count(c)["total"]}


def chatglm3_6b_table(r: int = 8) -> list[dict]:
    """LoRA trainable parameters on ChatGLM3-6B for a few target choices (pure arithmetic, no weights)."""
    c = _six_b()
    shapes = glm_linear_shapes(c["hidden"], c["ffn"], c["heads"], c["kv_groups"], c["head_dim"])
    # the official checkpoint fuses q/k/v into one query_key_value layer (4096 -> 4096 + 2 x 256): one rank-r update
    fused = c["layers"] * r * (c["hidden"] + (c["heads"] + 2 * c["kv_groups"]) * c["head_dim"])
    rows = [{"targets": "query_key_value (official, fused)", "r": r, "trainable": fused,
             "share": fused / c["total_params"]}]
    for label, targets in [("q,k,v split (native GLM)", ["q_proj", "k_proj", "v_proj"]),
                           ("attention q,k,v,o", GLM_ATTENTION_MODULES), ("all linear", GLM_ALL_LINEAR)]:
        n = lora_param_count(shapes, targets, r, c["layers"])
        rows.append({"targets": label, "r": r, "trainable": n, "share": n / c["total_params"]})
    return rows


def _logits(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=input_ids).logits.float()


@dataclass
class Config(ModelArgs):
    precision: str = arg("fp32", "the base model is compared in fp32 (the LoRA formula is exact there)",
                         choices=("fp32",), group="model")
    device: str = arg("cpu", "everything runs on the CPU (a few layers, a few milliseconds)", choices=("cpu",),
                      group="model")
    r: int = arg(8, "LoRA rank (the official ChatGLM3 finetune_demo uses r=8)")
    alpha: float = arg(16.0, "LoRA alpha (scaling = alpha / r)")
    targets: str = arg(",".join(GLM_ALL_LINEAR), "comma-separated linear layer names")
    seed: int = arg(0, "random seed")
    text: str = arg("你好，请问退货政策是什么？", "prompt whose logits are compared")


def main(cfg: Config | None = None) -> dict:
    """Run the four steps; returns parameter counts and the max logit differences."""
    import copy

    from peft import LoraConfig, get_peft_model

    from common.chatglm3 import load_model_and_tokenizer

    from common.cli import apply_threads

    cfg = cfg or Config()
    apply_threads(cfg)
    targets = [t.strip() for t in cfg.targets.split(",") if t.strip()]
    torch.manual_seed(cfg.seed)
    base, tok = load_model_and_tokenizer(cfg.model, precision="fp32", device="cpu")
    input_ids = tok.build_chat_input(cfg.text)["input_ids"]
    ref = _logits(base, input_ids)
    _, total = count_parameters(base)

    # 1) from scratch
    mine = copy.deepcopy(base)
    names = inject_lora(mine, targets, r=cfg.r, alpha=cfg.alpha)
    trainable, _ = count_parameters(mine)
    print(f"[1] from-scratch LoRA on {len(names)} layers ({', '.join(targets)}), r={cfg.r}, "
          f"alpha={cfg.alpha}: trainable {trainable:,} of {total + trainable:,} "
          f"({100 * trainable / (total + trainable):.3f}%)")
    start_diff = (_logits(mine, input_ids) - ref).abs().max().item()
    print(f"    B = 0 at start -> logits equal the base model's: max |diff| = {start_diff:.2e}")

    # 2) pretend training moved B; merge
    with torch.no_grad():
        for m in mine.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_(0, 0.02)
    lora_logits = _logits(mine, input_ids)
    merged = copy.deepcopy(mine)
    merge_lora(merged)
    merge_diff = (_logits(merged, input_ids) - lora_logits).abs().max().item()
    moved = (lora_logits - ref).abs().max().item()
    print(f"[2] after 'training' (B random): logits moved by {moved:.3f}; merged W + (alpha/r)BA vs "
          f"unmerged: max |diff| = {merge_diff:.2e}; merged params {count_parameters(merged)[1]:,} (= base)")

    # 3) PEFT
    peft_cfg = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=targets,
                          task_type="CAUSAL_LM")
    peft_model = get_peft_model(copy.deepcopy(base), peft_cfg)
    print("[3] PEFT: ", end="")
    peft_model.print_trainable_parameters()
    peft_trainable, _ = count_parameters(peft_model)
    with torch.no_grad():   # copy our A/B into PEFT's lora_A / lora_B
        for n in names:
            ours = mine.get_submodule(n)
            theirs = peft_model.base_model.model.get_submodule(n)
            theirs.lora_A["default"].weight.copy_(ours.lora_A)
            theirs.lora_B["default"].weight.copy_(ours.lora_B)
    peft_diff = (_logits(peft_model, input_ids) - lora_logits).abs().max().item()
    unloaded = peft_model.merge_and_unload()
    peft_merge_diff = (_logits(unloaded, input_ids) - lora_logits).abs().max().item()
    print(f"    same A/B in PEFT -> max |diff| vs ours = {peft_diff:.2e}; merge_and_unload() -> "
          f"{peft_merge_diff:.2e}; same trainable count: {peft_trainable == trainable}")

    # 4) ChatGLM3-6B arithmetic
    table = chatglm3_6b_table(cfg.r)
    print(f"[4] ChatGLM3-6B ({_six_b()['total_params'] / 1e9:.2f} B parameters), LoRA r={cfg.r} (arithmetic on the "
          f"official config; PEFT prints the same count for the real model):")
    for row in table:
        print(f"    {row['targets']:<36} {row['trainable'] / 1e6:8.2f} M trainable ({100 * row['share']:.3f}%)")
    print(f"done: LoRA == merged == PEFT (max diff {max(merge_diff, peft_diff, peft_merge_diff):.1e}), "
          f"{100 * trainable / (total + trainable):.2f}% trainable")
    return {"layers": names, "trainable": trainable, "total": total, "peft_trainable": peft_trainable,
            "start_diff": start_diff, "merge_diff": merge_diff, "peft_diff": peft_diff,
            "peft_merge_diff": peft_merge_diff, "moved": moved, "chatglm3_6b": table}


if __name__ == "__main__":
    run(main, Config, __doc__)
