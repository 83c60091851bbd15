"""The values of the shared model flags, in a module light enough for ``--help`` (no torch) and imported by both
``common.cli`` (the flags) and ``common.chatglm3`` (the loader) — one definition, no import cycle."""
PRECISIONS = ("fp32", "bf16", "fp16", "int8", "int4", "nf4")
DEVICES = ("auto", "cpu", "cuda", "mps")
KERNELS = ("plain", "fast")                    # --cpu-kernels: common/cpu_kernels.py
FAST_PRECISIONS = ("bf16", "fp16", "int8", "int4")
