"""4.1.2 确认统一地址的ChatGLM3部署方案 — one question, three ways to reach the same ChatGLM3: in-process
(``ChatGLM3ChatModel``), through the chapter-3 OpenAI-compatible server (``ChatGLM3ChatModel(base_url=...)``), and
through LangChain's own ``ChatOpenAI`` pointed at that server (tools included).

    python ch04_langchain/unified_address.py             # demo model in-process + a ch03 server started here
    python ch03_gradio/openai_api.py &                    # or: a server you run yourself (any model)...
    python ch04_langchain/unified_address.py --base-url http://127.0.0.1:8000/v1   # ...and only HTTP is used

Greedy decoding (``--temperature 0``) by default, so the three answers are the same text.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    question: str = arg("你好，请介绍一下你自己。", "what to ask all three")
    tool_question: str = arg("北京的天气怎么样？", "asked through ChatOpenAI with a get_weather tool")
    serve: bool = arg(True, "without --base-url: start the chapter-3 server in this process (a free port) to show "
                            "the HTTP paths too")


def get_weather(city_name: str) -> str:
    """Get the current weather for `city_name`"""
    from common.demo_tools import call_demo_tool
    return call_demo_tool("get_weather", {"city_name": city_name})


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: pass --question '...'")
    from langchain_openai import ChatOpenAI

    from common.langchain_chatglm3 import ChatGLM3ChatModel, chat_model_from_config, demo_line, resolve_api_key

    answers: dict[str, str] = {}
    handle = None
    url = cfg.base_url
    if not url:
        local = chat_model_from_config(cfg)
        answers["in-process ChatGLM3ChatModel"] = local.invoke(cfg.question).content
        if cfg.serve:
            from ch03_gradio.openai_api import Config as ServerConfig, start_in_thread
            model, tokenizer = local.model_and_tokenizer()  # already loaded here: the server shares it
            handle = start_in_thread(ServerConfig(port=0, log_level="warning", served_model_name="chatglm3-demo"
                                                  if local.uses_demo_model() else None), model, tokenizer)
            url = handle.url + "/v1"
            print(f"started the chapter-3 server at {url} (same model, shared)")
    tool_calls = None
    try:
        if url:
            served = ChatGLM3ChatModel(base_url=url, api_key=cfg.api_key, max_tokens=cfg.max_new_tokens,
                                       temperature=cfg.temperature, top_p=cfg.top_p)
            answers["ChatGLM3ChatModel(base_url=...)"] = served.invoke(cfg.question).content
            openai_chat = ChatOpenAI(base_url=served.base_url, api_key=resolve_api_key(cfg.api_key),
                                     model=served.server_model_id(),
                                     max_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
            answers["langchain_openai.ChatOpenAI(base_url=...)"] = openai_chat.invoke(cfg.question).content
            ai = openai_chat.bind_tools([get_weather]).invoke(cfg.tool_question)
            tool_calls = ai.tool_calls
            line = demo_line(served)
    finally:
        if handle:
            handle.stop()
    print(f"\nquestion: {cfg.question}")
    for who, text in answers.items():
        print(f"  {who:<44} -> {text!r}")
    if len(set(answers.values())) == 1 and len(answers) > 1 and cfg.temperature == 0:
        print("  (greedy decoding: the same model gives the same text on every path)")
    if tool_calls is not None:
        print(f"\nChatOpenAI + tools, {cfg.tool_question!r} -> tool_calls = {tool_calls}")
        if tool_calls:
            print(f"  running it locally (fake offline tool): {get_weather(**tool_calls[0]['args'])}")
        if url and line and not handle:
            print(line)
    return {"answers": answers, "tool_calls": tool_calls, "base_url": url if not handle else None}


if __name__ == "__main__":
    run(main, Config, __doc__)
