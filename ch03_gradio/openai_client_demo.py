"""3.4.1 Talk to the server with the official ``openai`` client: answer, stream, tool round trip, embeddings.

    python ch03_gradio/openai_api.py &                        # terminal 1
    python ch03_gradio/openai_client_demo.py --base-url http://127.0.0.1:8000/v1
    python ch03_gradio/openai_client_demo.py                  # no --base-url: starts a server here (--model ...)

The same code works against vLLM (``vllm serve THUDM/chatglm3-6b --trust-remote-code``, then
``--base-url http://127.0.0.1:8000/v1``) or any other OpenAI-compatible server — only the URL changes.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, redefault, run  # noqa: E402


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    model_name: str | None = arg(None, "model id to ask the server for (default: the first it serves)",
                                 group="client")
    question: str = arg("你好", "question for the plain and streamed answers", group="client")
    tool_question: str = arg("北京天气怎么样？", "question that needs a tool", group="client")
    start_server: bool = arg(False, "start openai_api.py in this process even when --base-url is given "
                                    "(without --base-url it is started anyway; --model etc. pick its model)",
                             group="client")


def main(cfg: Config) -> dict:
    from openai import OpenAI

    from ch03_gradio.server.chat_client import DEMO_TOOLS, run_tool

    from ch03_gradio.openai_api import server_url

    from common.cli import apply_threads

    start = cfg.start_server or not cfg.base_url
    if start:
        apply_threads(cfg)
    api_key = cfg.api_key or os.environ.get("CHATGLM3_API_KEY") or os.environ.get("OPENAI_API_KEY")
    with server_url(None if start else cfg.base_url, model=cfg.model, precision=cfg.precision, device=cfg.device,
                    api_key=api_key) as url:
        base_url = url + "/v1"
        client = OpenAI(base_url=base_url, api_key=api_key or "EMPTY")
        model = cfg.model_name or client.models.list().data[0].id
        print(f"server {base_url}, model {model}")
        common = dict(model=model, max_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                      seed=cfg.seed, extra_body={"repetition_penalty": cfg.repetition_penalty})

        # 1) 普通调用 one answer
        messages = [{"role": "user", "content": cfg.question}]
        r = client.chat.completions.create(messages=messages, **common)
        answer = r.choices[0].message.content
        print(f"\n[1] non-stream: {answer!r}\n    usage: {r.usage.prompt_tokens} prompt + "
              f"{r.usage.completion_tokens} completion tokens")

        # 2) 流式输出 streaming
        print("[2] stream: ", end="", flush=True)
        streamed = ""
        for chunk in client.chat.completions.create(messages=messages, stream=True, **common):
            if chunk.choices and chunk.choices[0].delta.content:
                streamed += chunk.choices[0].delta.content
                print(chunk.choices[0].delta.content, end="", flush=True)
        print()

        # 3) 工具调用往返 tools: the model asks for a tool, we run it locally, the model answers from the result
        messages = [{"role": "user", "content": cfg.tool_question}]
        r = client.chat.completions.create(messages=messages, tools=DEMO_TOOLS, **common)
        msg = r.choices[0].message
        final = msg.content
        calls = []
        if msg.tool_calls:
            messages.append(msg.model_dump(exclude_none=True))
            for call in msg.tool_calls:
                result = run_tool(call.function.name, call.function.arguments)   # our code decides what runs
                calls.append({"name": call.function.name, "arguments": json.loads(call.function.arguments),
                              "result": json.loads(result)})
                print(f"[3] tool call: {call.function.name}({call.function.arguments}) -> {result}")
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            final = client.chat.completions.create(messages=messages, tools=DEMO_TOOLS, **common) \
                .choices[0].message.content
        else:
            print(f"[3] the model answered without a tool (finish_reason={r.choices[0].finish_reason})")
        print(f"    answer: {final!r}")

        # 4) 向量 embeddings
        e = client.embeddings.create(model=model, input=["今天天气很好", "北京天气怎么样？"])
        a, b = (d.embedding for d in e.data)
        cosine = sum(x * y for x, y in zip(a, b))
        print(f"[4] embeddings: {len(e.data)} x {len(a)} dims, cosine(0, 1) = {cosine:.3f}")
        return {"model": model, "answer": answer, "streamed": streamed, "tool_calls": calls, "tool_answer": final,
                "embedding_dim": len(a), "cosine": cosine}


if __name__ == "__main__":
    run(main, Config, __doc__)
