"""Chapter 10 — low-resource fine-tuning of ChatGLM3 (《ChatGLM3大模型本地化部署、应用开发与微调》 第10章 低资源单GPU微调ChatGLM3实战).

LoRA from scratch and with PEFT, the official fine-tune data format (``common/sft.py``), accelerate training with
resume, quantization (absmax / zero-point / LLM.int8 / NF4 / ChatGLM3's INT4), QLoRA, and a memory benchmark.
See README.md.
"""
