"""Chapter 9 — GLM from scratch (《ChatGLM3大模型本地化部署、应用开发与微调》 第9章 GLM源码分析与文本生成实战).

Plain-PyTorch modules that rebuild ChatGLM3 piece by piece (RoPE, attention, GLU, masks, GLMBlock, the full
model, generation) with the official parameter names, plus a trainer for small GLMs. See README.md.
"""
