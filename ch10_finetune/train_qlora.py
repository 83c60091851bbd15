"""10.5–10.6 QLoRA：bitsandbytes NF4 + 双重量化的冻结基座 + LoRA，在 AdvertiseGen 风格数据上做文本生成微调。

QLoRA = the frozen base weights stored as 4-bit NormalFloat (NF4, blocks of 64, the block constants themselves
quantised to 8 bits: "double quantization"), de-quantised on the fly to the compute dtype in every matmul, plus LoRA
adapters in full precision — the only weights that train. Steps (10.5.1):

1. load the resolved model and replace its block linear layers by ``bitsandbytes.nn.Linear4bit`` (NF4, double quant;
   ``ch10_finetune/quantize.py::to_bitsandbytes``) — bitsandbytes >= 0.45 does this on CPU as well as CUDA;
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

from typing import Any

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch10_finetune.train_lora import DEFAULTS, _load_device, _resolve_cfg, add_train_args, lora_config, run_training
from common.paths import DATA_DIR

ADV_DIR = DATA_DIR / "ch10" / "advertise_gen"
QLORA_DEFAULTS: dict[str, Any] = {
    **DEFAULTS, "train_file": str(ADV_DIR / "train.jsonl"), "dev_file": str(ADV_DIR / "dev.jsonl"),
    "run_name": "qlora", "demo_split": "dev", "epochs": 3.0, "max_length": 256, "gradient_checkpointing": True,
    "quant_type": "nf4", "double_quant": True, "compute_dtype": "auto",
}


def build_qlora_model(cfg: dict, accelerator):
    """Base model -> bitsandbytes 4-bit -> prepare_model_for_kbit_training -> LoRA: ``(model, tok, info)``."""
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training

    from ch10_finetune.quantize import model_bytes, to_bitsandbytes
    from common.chatglm3 import load_model_and_tokenizer

    on_gpu = accelerator.device.type == "cuda"
    compute = {"auto": torch.bfloat16 if on_gpu else torch.float32, "fp32": torch.float32,
               "bf16": torch.bfloat16, "fp16": torch.float16}[cfg["compute_dtype"]]
    # read in the compute dtype on the CPU, then quantise layer by layer onto the training device
    precision = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[compute]
    model, tok = load_model_and_tokenizer(cfg["model"], precision=precision, device="cpu",
                                          quiet=not accelerator.is_main_process)
    before = model_bytes(model)["linear"]
    names = to_bitsandbytes(model, cfg["quant_type"], double_quant=cfg["double_quant"], compute_dtype=compute,
                            device=_load_device(accelerator))
    model.to(_load_device(accelerator))
    model.is_loaded_in_4bit = True   # what from_pretrained(quantization_config=...) sets; PEFT and accelerate read it
    after = model_bytes(model)["linear"]
    accelerator.print(f"[qlora] {len(names)} linear layers -> bitsandbytes {cfg['quant_type'].upper()}"
                      f"{' + double quant' if cfg['double_quant'] else ''}, compute {str(compute)[6:]}: "
                      f"{before / 2**20:.2f} MiB -> {after / 2**20:.2f} MiB ({after / before:.3f}x)")
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg["gradient_checkpointing"],
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, lora_config(cfg))
    return model, tok, {"method": f"QLoRA ({cfg['quant_type'].upper()})", "quantized_layers": len(names),
                        "linear_bytes_before": before, "linear_bytes_after": after}


def main(cfg: dict | None = None) -> dict:
    """QLoRA fine-tune (AdvertiseGen-style data by default); returns losses, metrics and paths."""
    return run_training(_resolve_cfg(cfg, QLORA_DEFAULTS), build_qlora_model, "QLoRA")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_train_args(parser, QLORA_DEFAULTS)
    parser.add_argument("--quant-type", default=QLORA_DEFAULTS["quant_type"], choices=["nf4", "fp4"],
                        help="4-bit data type of the frozen base weights")
    parser.add_argument("--no-double-quant", dest="double_quant", action="store_false",
                        help="keep the per-block constants in fp32 (QLoRA quantises them to 8 bits)")
    parser.add_argument("--compute-dtype", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                        help="dtype the 4-bit weights are de-quantised to (auto: bf16 on CUDA, fp32 on CPU)")
    main(vars(parser.parse_args()))
