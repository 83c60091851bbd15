"""The ChatGLM3 runtime every chapter uses: load, chat, stream, parse — on transformers' native GLM.

Public contract (tests outside this repository call exactly these)::

    from common.chatglm3 import load_tokenizer, load_model, chat, stream_chat, process_response
    tok = load_tokenizer(path=None)
    model = load_model(path=None, precision="fp32", device="cpu")
    response, history = chat(model, tok, "你好", history=None, role="user")
    for response, history in stream_chat(model, tok, "你好"): ...
    content, history = process_response(output_text, history)

``response`` is a ``str``, or a ``dict`` ``{"name", "parameters"}`` for a tool call — as in the official ``chat()``.
The semantics follow the official ChatGLM3 remote code (history format, defaults top_p=0.8, temperature=0.8,
max_length=8192, stop tokens eos / ``<|user|>`` / ``<|observation|>``), with two differences: tool calls are parsed
without ``eval`` (see ``common.toolcall``) and ``stream_chat`` also streams tool calls.
"""
from __future__ import annotations

import copy
import logging
import os
import queue
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import torch
from transformers import GlmForCausalLM, LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from .checkpoint import is_official_config, load_glm_from_official, read_config
from .resolve import demo_notice, resolve_model_path
from .tokenizer import ChatGLM3Tokenizer, load_chatglm3_tokenizer
from .toolcall import ToolCallError, parse_tool_call

# one definition, shared with common.cli (no torch there)
from .choices import DEVICES, FAST_PRECISIONS, KERNELS, PRECISIONS
_log = logging.getLogger("chatglm3")
FLOAT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> dtype


# ============================================================================================== loading
def load_tokenizer(path: str | os.PathLike | None = None, **kwargs: Any) -> ChatGLM3Tokenizer:
    """The ChatGLM3 tokenizer of the resolved model (``path=None``: flag/env/demo model)."""
    return load_chatglm3_tokenizer(resolve_model_path(path), **kwargs)


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> cuda if present, else mps, else cpu; an unavailable device is a clear error."""
    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but PyTorch sees no CUDA GPU (CPU build of torch, or no "
                           "driver). Use --device cpu, or install the CUDA build of torch (see README).")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("--device mps was asked for but this machine has no Apple-silicon GPU.")
    return torch.device(device)


def load_model(path: str | os.PathLike | None = None, precision: str = "fp32", device: str = "cpu",
               verbose: bool = True, compute_dtype: torch.dtype | None = None,
               quantize_output: bool = False, kernels: str = "plain") -> GlmForCausalLM:
    """A ``GlmForCausalLM`` (eval mode) for an official ChatGLM3 folder or a native GLM folder.

    ``precision``: fp32 | bf16 | fp16 | int8 | int4. ``device``: auto | cpu | cuda | mps. With several CUDA GPUs and
    ``device="auto"`` the layers are spread over them (accelerate's ``device_map="auto"``). INT8/INT4 use PyTorch's
    weight-only kernels on CPU and bitsandbytes on CUDA; ``nf4`` is bitsandbytes NF4 + double quantization on every
    device (the QLoRA base; ``compute_dtype``: what its matmuls run in, default bf16 on CUDA, fp32 on CPU). Each
    linear layer is quantized as soon as it is read, so the full-precision weights are never all in memory.
    ``model.load_report`` says what was quantized.

    The output layer (``lm_head``, vocabulary x hidden: ChatGLM3-6B's biggest matrix) stays bf16 by default;
    ``quantize_output=True`` (CPU int8/int4 only, opt-in) quantizes it too: a faster decode step, logits within the
    tolerance ``tests/test_common_quant_output.py`` states.

    ``kernels="fast"`` (CPU, bf16/fp16/int8/int4, inference only, opt-in) swaps the linear layers for faster CPU
    kernels while loading (``common/cpu_kernels.py``: PyTorch's native gemv for one-token calls at bf16/fp16, fbgemm
    with int8 activations per token for int8, and an int8 output layer for int8/int4); ``"plain"`` keeps the layers
    above.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    model_dir = resolve_model_path(path)
    dev = pick_device(device)
    multi_gpu = device == "auto" and dev.type == "cuda" and torch.cuda.device_count() > 1
    quantized = precision in ("int8", "int4", "nf4")
    if quantize_output and not (precision in ("int8", "int4") and dev.type == "cpu"):
        raise ValueError("quantize_output is for --precision int8/int4 on CPU (PyTorch's weight-only kernels); "
                         f"not {precision} on {dev.type}")
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, not {kernels!r}")
    # what the output layer becomes: bf16 by default (None), the model's precision with quantize_output, int8 with
    # the fast kernels (int4 too: as fast as an int4 output layer there, and much closer to the plain numbers)
    output_precision = precision if quantize_output else None
    if kernels == "fast":
        if dev.type != "cpu" or precision not in FAST_PRECISIONS or multi_gpu:
            from .cpu_kernels import KernelsError
            raise KernelsError(f"kernels='fast' (--cpu-kernels fast) is for --precision {'/'.join(FAST_PRECISIONS)} "
                               f"on CPU; not {precision} on {dev.type}. Use --cpu-kernels plain.")
        if precision in ("int8", "int4"):
            output_precision = "int8"
    if precision == "fp16" and dev.type == "cpu" and verbose and kernels == "plain":
        print("[note] fp16 on CPU is slow on most processors; bf16 or int8/int4 are the CPU choices.",
              file=sys.stderr)
    # 量化时先以 bf16 读入（CUDA 上 bitsandbytes 用 fp16）；边读边量化，避免整模型两份拷贝
    dtype = FLOAT_DTYPES.get(precision, compute_dtype or (torch.float16 if dev.type == "cuda" else torch.bfloat16))
    load_device = torch.device("cpu") if (quantized or multi_gpu) else dev
    report: dict[str, Any] = {"path": str(model_dir), "precision": precision, "device": str(dev),
                              "quantized": [], "kept": []}
    cfg = read_config(model_dir)
    if is_official_config(cfg):
        hook = (_QuantizeWhenReady(precision, dev, report, compute_dtype, output_precision, kernels)
                if quantized or kernels == "fast" else None)
        model = load_glm_from_official(model_dir, dtype=dtype, device=load_device,
                                       on_module_ready=hook)
    elif cfg.get("model_type") == "glm":
        model = GlmForCausalLM.from_pretrained(model_dir, dtype=dtype, device_map=None if multi_gpu else load_device)
        if quantized:
            from .quant import quantize_linears
            r = quantize_linears(model, precision, dev, compute_dtype=compute_dtype, skip=("lm_head",))
            report["quantized"], report["kept"] = r["quantized"], r["kept"]
        if output_precision:
            _quantize_in_place(model, "lm_head", output_precision, dev, compute_dtype, report)
    else:
        raise ValueError(f"{model_dir}/config.json has model_type={cfg.get('model_type')!r}; expected 'chatglm' "
                         "(official ChatGLM3 files) or 'glm' (a folder written by convert_checkpoint.py).")
    if quantized:
        model.to(dev)  # the rest (embeddings, norms, lm_head) follows the quantized layers
        if dev.type == "cuda" or precision == "nf4":
            # bitsandbytes layers: the flags from_pretrained(quantization_config=...) sets; PEFT's
            # prepare_model_for_kbit_training and accelerate read them (the QLoRA path of chapter 10)
            model.is_loaded_in_4bit = precision in ("int4", "nf4")
            model.is_loaded_in_8bit = precision == "int8"
    if multi_gpu:
        from accelerate import dispatch_model, infer_auto_device_map
        device_map = infer_auto_device_map(model, no_split_module_classes=["GlmDecoderLayer"], dtype=dtype)
        model = dispatch_model(model, device_map=device_map)
        report["device_map"] = device_map
    _set_generation_defaults(model, model_dir)
    if kernels == "fast":  # official folders were converted layer by layer while loading; this covers the rest
        from .cpu_kernels import use_fast_kernels
        report["fast_kernels"] = report.get("fast_kernels", []) + use_fast_kernels(model)
        from .memory import release_free_memory
        release_free_memory()  # 换下来的旧层已释放；把空出的堆内存还给系统
    report["kernels"] = kernels
    model.eval()
    model.load_report = report
    if verbose and report["kept"]:
        print(f"[note] {len(report['kept'])} layer(s) cannot take the {precision} kernel for their shape and stay "
              f"bf16: {', '.join(report['kept'][:4])}{' ...' if len(report['kept']) > 4 else ''}", file=sys.stderr)
    return model


def _quantize_in_place(model: torch.nn.Module, module_name: str, precision: str, device: torch.device,
                       compute_dtype: torch.dtype | None, report: dict) -> torch.nn.Module:
    """Quantize the one linear layer ``module_name`` of ``model`` to ``precision``, in place; returns what sits there
    now (the layer itself when the kernel cannot take its shape: it is then listed under ``report["kept"]``)."""
    from .quant import quantize_linears, replace_module
    attr = module_name.rpartition(".")[2]
    holder = torch.nn.Module()
    holder.add_module(attr, model.get_submodule(module_name))
    r = quantize_linears(holder, precision, device, compute_dtype=compute_dtype, skip=())
    report["quantized"] += [module_name for _ in r["quantized"]]
    report["kept"] += [module_name for _ in r["kept"]]
    replace_module(model, module_name, getattr(holder, attr))
    return getattr(holder, attr)


class _QuantizeWhenReady:
    """Quantize each Linear as soon as the loader has filled its weight (and bias): the model never holds all
    the full-precision weights at once."""

    def __init__(self, precision: str, device: torch.device, report: dict, compute_dtype: torch.dtype | None = None,
                 output_precision: str | None = None, kernels: str = "plain"):
        self.precision, self.device, self.report, self.compute_dtype = precision, device, report, compute_dtype
        self.output_precision, self.kernels = output_precision, kernels

    def __call__(self, model: torch.nn.Module, module_name: str) -> None:
        if not isinstance(model.get_submodule(module_name), torch.nn.Linear):
            return
        if module_name.endswith("lm_head"):
            target = self.output_precision
        else:
            target = self.precision if self.precision in ("int8", "int4", "nf4") else None
        layer = (_quantize_in_place(model, module_name, target, self.device, self.compute_dtype, self.report)
                 if target else model.get_submodule(module_name))
        if self.kernels == "fast":  # 读一层、换一层：峰值内存只多一层
            from .cpu_kernels import use_fast_kernels
            from .quant import replace_module
            holder = torch.nn.Sequential(layer)
            del layer
            if use_fast_kernels(holder):
                self.report.setdefault("fast_kernels", []).append(module_name)
                replace_module(model, module_name, holder[0])


def _set_generation_defaults(model: GlmForCausalLM, model_dir: Path) -> None:
    """Plain ``model.generate`` stops where ChatGLM3 does (eos, <|user|>, <|observation|>); pad is 0."""
    gc = model.generation_config
    gc.pad_token_id = 0
    if (model_dir / "tokenizer.model").is_file():
        tok = load_chatglm3_tokenizer(model_dir)
        gc.eos_token_id = tok.stop_token_ids
    gc.do_sample, gc.temperature, gc.top_p, gc.top_k = True, 0.8, 0.8, None


def load_model_and_tokenizer(path: str | os.PathLike | None = None, precision: str = "fp32", device: str = "cpu",
                             quiet: bool = False, compute_dtype: torch.dtype | None = None,
                             quantize_output: bool = False, kernels: str = "plain"
                             ) -> tuple[GlmForCausalLM, ChatGLM3Tokenizer]:
    """Both at once, printing the one-line demo-model notice when it is the built-in demo model."""
    model_dir = resolve_model_path(path)
    notice = demo_notice(model_dir)
    if notice and not quiet:
        print(notice, file=sys.stderr)
    return (load_model(model_dir, precision, device, verbose=not quiet, compute_dtype=compute_dtype,
                       quantize_output=quantize_output, kernels=kernels),
            load_chatglm3_tokenizer(model_dir))


# ============================================================================================== generation
class InvalidScoreLogitsProcessor(LogitsProcessor):
    """As in the official code: NaN/Inf scores (fp16 overflow) would kill sampling; replace them."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if torch.isnan(scores).any() or torch.isinf(scores).any():
            scores.zero_()
            scores[..., 5] = 5e4
        return scores


def generation_kwargs(tokenizer: ChatGLM3Tokenizer | None = None, *, max_length: int | None = 8192,
                      max_new_tokens: int | None = None, do_sample: bool = True, top_p: float = 0.8,
                      temperature: float = 0.8, top_k: int | None = None, repetition_penalty: float = 1.0,
                      num_beams: int = 1, logits_processor: LogitsProcessorList | None = None,
                      **extra: Any) -> dict:
    """The one place that turns ChatGLM3's chat options into ``model.generate`` arguments.

    ``temperature=0`` (or ``do_sample=False``) means greedy decoding, as in the OpenAI API."""
    if temperature is not None and temperature <= 0:
        do_sample = False
    processors = LogitsProcessorList([InvalidScoreLogitsProcessor()])
    if logits_processor:
        processors.extend(logits_processor)
    kw: dict[str, Any] = {"do_sample": do_sample, "num_beams": num_beams, "logits_processor": processors,
                          "repetition_penalty": repetition_penalty}
    if do_sample:
        kw.update(top_p=top_p, temperature=temperature, top_k=top_k if top_k else None)
    else:  # 关闭采样时清掉采样参数，避免 transformers 的警告
        kw.update(top_p=None, temperature=None, top_k=None)
    if max_new_tokens is not None:
        kw["max_new_tokens"] = max_new_tokens
    elif max_length is not None:
        kw["max_length"] = max_length
    if tokenizer is not None:
        kw.setdefault("eos_token_id", tokenizer.stop_token_ids)
        kw.setdefault("pad_token_id", tokenizer.pad_token_id)
    kw.update(extra)
    return kw


def _prompt_and_history(tokenizer: ChatGLM3Tokenizer, query: str, history: list[dict] | None, role: str,
                        device: torch.device):
    history = copy.deepcopy(history) if history else []
    inputs = tokenizer.build_chat_input(query, history=history, role=role).to(device)
    history.append({"role": role, "content": query})
    return inputs, history


def _strip_stop(ids: list[int], stop_ids: list[int]) -> list[int]:
    return ids[:-1] if ids and ids[-1] in stop_ids else ids


@torch.inference_mode()
def chat(model: GlmForCausalLM, tokenizer: ChatGLM3Tokenizer, query: str, history: list[dict] | None = None,
         role: str = "user", max_length: int = 8192, max_new_tokens: int | None = None, num_beams: int = 1,
         do_sample: bool = True, top_p: float = 0.8, temperature: float = 0.8,
         logits_processor: LogitsProcessorList | None = None, **kwargs: Any) -> tuple[str | dict, list[dict]]:
    """One turn: ``(response, history)`` like the official ``model.chat(tokenizer, query, history, role)``."""
    inputs, history = _prompt_and_history(tokenizer, query, history, role, model.device)
    gen = generation_kwargs(tokenizer, max_length=max_length, max_new_tokens=max_new_tokens, num_beams=num_beams,
                            do_sample=do_sample, top_p=top_p, temperature=temperature,
                            logits_processor=logits_processor, **kwargs)
    out = model.generate(**inputs, **gen)
    ids = _strip_stop(out[0, inputs["input_ids"].shape[1]:].tolist(), tokenizer.stop_token_ids)
    return process_response(tokenizer.decode(ids), history)


class _TokenQueue(BaseStreamer):
    """Receives new token ids from ``generate`` running in a worker thread."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first sends the prompt itself
            self._prompt_seen = True
            return
        self.queue.put(value.reshape(-1).tolist())

    def end(self) -> None:
        self.queue.put(None)


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def stream_generate_ids(model: GlmForCausalLM, inputs: dict, **gen: Any) -> Iterator[list[int]]:
    """Run ``generate`` in a thread and yield the list of new token ids after each step.

    Closing the iterator (a client went away) stops generation at the next token."""
    streamer, cancel = _TokenQueue(), threading.Event()
    criteria = StoppingCriteriaList(gen.pop("stopping_criteria", None) or [])
    criteria.append(_Cancelled(cancel))
    error: list[BaseException] = []

    def work() -> None:
        try:
            with torch.inference_mode():
                model.generate(**inputs, **gen, streamer=streamer, stopping_criteria=criteria)
        except BaseException as exc:  # re-raised in the consumer thread
            error.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    ids: list[int] = []
    try:
        while True:
            item = streamer.queue.get()
            if item is None:
                break
            ids.extend(item)
            yield list(ids)
    finally:
        cancel.set()
        thread.join()
    if error:
        raise error[0]


def stream_chat(model: GlmForCausalLM, tokenizer: ChatGLM3Tokenizer, query: str, history: list[dict] | None = None,
                role: str = "user", past_key_values: Any = None, max_length: int = 8192,
                max_new_tokens: int | None = None, do_sample: bool = True, top_p: float = 0.8,
                temperature: float = 0.8, logits_processor: LogitsProcessorList | None = None,
                **kwargs: Any) -> Iterator[tuple[str | dict, list[dict]]]:
    """Yield ``(response_so_far, history)`` after every token, like the official ``stream_chat``.

    While a tool call is being written, ``response`` is ``{"name": tool, "content": text_so_far}``; the last
    item has the parsed ``{"name", "parameters"}`` (the official version cannot stream tool calls)."""
    if past_key_values is not None:
        raise ValueError("past_key_values is not supported; pass the history instead.")
    inputs, history = _prompt_and_history(tokenizer, query, history, role, model.device)
    gen = generation_kwargs(tokenizer, max_length=max_length, max_new_tokens=max_new_tokens, do_sample=do_sample,
                            top_p=top_p, temperature=temperature, logits_processor=logits_processor, **kwargs)
    stops = tokenizer.stop_token_ids
    last = None
    for ids in stream_generate_ids(model, dict(inputs), **gen):
        text = tokenizer.decode(_strip_stop(ids, stops))
        if not text or text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            continue
        last = text
        finished = ids[-1] in stops
        yield process_response(text, history, partial=not finished)
    if last is not None:  # the final, fully parsed item (also when generation hit the length limit)
        yield process_response(last, history)


# ============================================================================================== parsing
def process_response(output: str, history: list[dict] | None, partial: bool = False) -> tuple[str | dict, list[dict]]:
    """Split the decoded output into assistant messages and return ``(content, new_history)``.

    Like the official ``process_response``: each ``<|assistant|>`` segment is ``metadata\\ncontent``; empty metadata is
    a text reply; with tools in ``history[0]``, metadata naming one of *those* tools is a tool call
    ``{"name", "parameters"}``; without tools, other metadata gives ``{"name", "content"}`` (e.g. ``interpreter``).
    Tool calls are *parsed*, never executed. A call of an undeclared name (the demo model once wrote
    ``，天气温℃， get_weather``) or with arguments that do not parse into a JSON object is not a call: it comes back
    as plain text and is logged (``logging``, so thousands of bad calls leave nothing behind). ``partial=True``
    (streaming) returns ``{"name", "content"}`` for an unfinished call of a declared tool.
    """
    content: str | dict = ""
    history = copy.deepcopy(history) if history else []
    has_tools = bool(history) and history[0].get("role") == "system" and "tools" in history[0]
    declared = set()
    if has_tools:
        declared = {t.get("name") for t in history[0].get("tools") or [] if isinstance(t, dict)}
    for segment in output.split("<|assistant|>"):
        if "\n" in segment:
            metadata, text = segment.split("\n", maxsplit=1)
        else:
            metadata, text = "", segment
        if not metadata.strip():
            text = text.strip()
            history.append({"role": "assistant", "metadata": metadata, "content": text})
            content = text.replace("[[训练时间]]", "2023年")
            continue
        name = metadata.strip()
        if not has_tools:
            history.append({"role": "assistant", "metadata": metadata, "content": text})
            content = {"name": name, "content": text}
            continue
        if name not in declared:
            reason = "is not one of the declared tools"
        else:
            try:
                content = {"name": name, "parameters": parse_tool_call(text)}
                history.append({"role": "assistant", "metadata": metadata, "content": text})
                continue
            except ToolCallError as exc:
                if partial:
                    history.append({"role": "assistant", "metadata": metadata, "content": text})
                    content = {"name": name, "content": text}
                    continue
                reason = f"has invalid arguments ({exc})"
        content = segment.strip()
        if not partial:
            _log.warning("the model wrote a call of %r that %s; returned as text", name[:60], reason)
        history.append({"role": "assistant", "metadata": "", "content": content})
    return content, history
