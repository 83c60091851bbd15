"""3.4.1 Talk to the server with the official ``openai`` client: answer, stream, tool round trip, embeddings.

    python ch03_gradio/openai_api.py &                        # terminal 1 (or: --start-server below)
    python ch03_gradio/openai_client_demo.py --base-url http://127.0.0.1:8000/v1

The same code works against vLLM (``vllm serve THUDM/chatglm3-6b --trust-remote-code``, then
``--base-url http://127.0.0.1:8000/v1``) or any other OpenAI-compatible server — only the URL changes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


@dataclass
class Config:
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str | None = None
    model_name: str | None = None
    question: str = "你好"
    tool_question: str = "北京天气怎么样？"
    max_tokens: int = 128
    temperature: float = 0.0
    start_server: bool = False
    model: str | None = None


def main(cfg: Config) -> dict:
    from openai import OpenAI

    from ch03_gradio.server.chat_client import DEMO_TOOLS, run_tool

    from ch03_gradio.openai_api import server_url

    with server_url(None if cfg.start_server else cfg.base_url, model=cfg.model, api_key=cfg.api_key) as url:
        base_url = url + "/v1"
        client = OpenAI(base_url=base_url, api_key=cfg.api_key or os.environ.get("CHATGLM3_API_KEY") or "EMPTY")
        model = cfg.model_name or client.models.list().data[0].id
        print(f"server {base_url}, model {model}")
        common = dict(model=model, max_tokens=cfg.max_tokens, temperature=cfg.temperature)

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
    d = Config()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--base-url", default=d.base_url, help="OpenAI-compatible API base URL (ends in /v1)")
    parser.add_argument("--api-key", default=d.api_key, help="API key (default: $CHATGLM3_API_KEY, else 'EMPTY')")
    parser.add_argument("--model-name", default=d.model_name, help="model id to ask for (default: the first served)")
    parser.add_argument("--question", default=d.question, help="question for the plain and streamed answers")
    parser.add_argument("--tool-question", default=d.tool_question, help="question that needs a tool")
    parser.add_argument("--max-tokens", type=int, default=d.max_tokens, help="max tokens per answer")
    parser.add_argument("--temperature", type=float, default=d.temperature, help="0 = greedy (reproducible)")
    parser.add_argument("--start-server", action="store_true",
                        help="start openai_api.py in this process first (then --model picks the model)")
    parser.add_argument("--model", default=d.model,
                        help="with --start-server: model folder (default: $CHATGLM3_MODEL or the demo model)")
    main(Config(**vars(parser.parse_args())))
