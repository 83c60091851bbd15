"""10.5–10.6 QLoRA：bitsandbytes NF4 + 双重量化的冻结基座 + LoRA，在 AdvertiseGen 风格数据上做文本生成微调。

QLoRA = the frozen base weights stored as 4-bit NormalFloat (NF4, blocks of 64, the block constants themselves
quantised to 8 bits: "double quantization"), de-quantised on the fly to the compute dtype in every matmul, plus LoRA
adapters in full precision — the only weights that train. Steps (10.5.1):

1. load the resolved model with ``common.chatglm3.load_model(precision="nf4")``: each block linear layer becomes a
   ``bitsandbytes.nn.Linear4bit`` (NF4, double quant; ``common.quant.bnb_linear``) as soon as it is read, so the
   full-precision model never exists in memory — bitsandbytes (0.50 measured here) does this on CPU as well as CUDA;
2. ``peft.prepare_model_for_kbit_training`` (freeze, norms/embeddings to fp32, gradient checkpointing);
3. ``get_peft_model`` with the same ``LoraConfig`` as ``train_lora.py``.

10.6: the data is ``{"content": "类型#上衣*材质#牛仔布*...", "summary": "..."}``; ``common/sft.py`` turns each record into
a user turn (the attribute list: masked, label -100) and an assistant turn (the ad copy: trained, ending with eos) —
the loss of 10.6.2 is cross-entropy on the summary tokens only. At the end, ad copy generated for dev attribute lists
that never occur in training, before and after (10.6.4).

Everything else — flags, data handling, accelerate, resume, metrics, plots — is ``train_lora.py``'s (imported).
``python ch10_finetune/train_qlora.py --train-file data/ch10/customer_service/train.jsonl --dev-file
data/ch10/customer_service/dev.jsonl`` runs QLoRA on the customer-service data instead.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python chNN/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch10_finetune.train_lora import Config as LoRAConfig
from ch10_finetune.train_lora import _load_device, lora_config, run_training
from common.cli import arg, redefault, run
from common.paths import DATA_DIR

ADV_DIR = DATA_DIR / "ch10" / "advertise_gen"


@dataclass
class Config(LoRAConfig):
    precision: str = arg("nf4", "the frozen base: bitsandbytes NF4 + double quantization, quantized layer by layer "
                                "while loading (common.chatglm3.load_model(precision='nf4'))", choices=("nf4",),
                         group="model")
    compute_dtype: str = arg("auto", "dtype the 4-bit weights are de-quantised to in every matmul (auto: bf16 on "
                                     "CUDA, fp32 on CPU)", choices=("auto", "fp32", "bf16", "fp16"), group="model")
    train_file: str = redefault(LoRAConfig, "train_file", str(ADV_DIR / "train.jsonl"))
    epochs: float = redefault(LoRAConfig, "epochs", 3.0)
    min_steps: int = redefault(LoRAConfig, "min_steps", 90)
    max_length: int = redefault(LoRAConfig, "max_length", 256)
    gradient_checkpointing: bool = redefault(LoRAConfig, "gradient_checkpointing", True)
    demo_split: str = redefault(LoRAConfig, "demo_split", "dev")
    run_name: str = redefault(LoRAConfig, "run_name", "qlora")


def build_qlora_model(cfg: Config, accelerator):
    """4-bit base straight from the checkpoint -> prepare_model_for_kbit_training -> LoRA: ``(model, tok, info)``.

    ``load_model(precision="nf4")`` quantizes each linear layer as soon as the loader has read it, so the
    full-precision weights are never all in memory (a 6B QLoRA needs ~4 GB for the base, not 12-25 GB)."""
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training

    from ch10_finetune.quantize import model_bytes
    from common.chatglm3 import FLOAT_DTYPES, load_model_and_tokenizer

    on_gpu = accelerator.device.type == "cuda"
    compute = (torch.bfloat16 if on_gpu else torch.float32) if cfg.compute_dtype == "auto" \
        else FLOAT_DTYPES[cfg.compute_dtype]
    model, tok = load_model_and_tokenizer(cfg.model, precision="nf4", device=_load_device(accelerator),
                                          quiet=not accelerator.is_main_process, compute_dtype=compute)
    names = model.load_report["quantized"]
    after = model_bytes(model)["linear"]
    accelerator.print(f"[qlora] {len(names)} linear layers -> bitsandbytes NF4 + double quant while loading, "
                      f"compute {str(compute)[6:]}: block linear weights {after / 2**20:.2f} MiB")
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, lora_config(cfg))
    return model, tok, {"method": "QLoRA (NF4)", "quantized_layers": len(names), "linear_bytes_after": after}


def main(cfg: Config | None = None) -> dict:
    """QLoRA fine-tune (AdvertiseGen-style data by default); returns losses, metrics and paths."""
    return run_training(cfg or Config(), build_qlora_model, "QLoRA")


if __name__ == "__main__":
    run(main, Config, __doc__)
