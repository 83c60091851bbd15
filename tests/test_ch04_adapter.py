"""The LangChain adapter (common/langchain_chatglm3.py): message mapping, tools, streaming chunks, stop, errors,
LangChain's own conformance suite, the chapter-3 server through the adapter and through ``ChatOpenAI``.

Exact texts come from a *scripted* model (a stand-in ``generate`` that writes a fixed reply token by token through
the real tokenizer, streamer and stopping criteria); everything else runs the committed demo model.
"""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import os
import socket
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from common.paths import DEMO_MODEL_DIR

DEMO = str(DEMO_MODEL_DIR)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def demo():
    from common.langchain_chatglm3 import shared_model_and_tokenizer
    return shared_model_and_tokenizer(DEMO, quiet=True)


# ============================================================================================== a scripted model
class ScriptedModel:
    """Writes ``reply`` (then a stop token) whatever the prompt, honouring streamer / stopping criteria /
    max_new_tokens exactly as ``model.generate`` does. Records the prompts it saw."""

    def __init__(self, tokenizer, reply: str, end: str = "<|user|>", max_context: int = 512):
        self.device = torch.device("cpu")
        self.config = types.SimpleNamespace(max_position_embeddings=max_context)  # the demo model's seq_length
        self.tokenizer = tokenizer
        ids: list[int] = []
        for k, part in enumerate(reply.split("<|assistant|>")):
            if k:
                ids.append(tokenizer.get_command("<|assistant|>"))
            ids += tokenizer.encode(part, add_special_tokens=False)
        self.reply_ids = ids + [tokenizer.get_command(end)]
        self.prompts: list[str] = []

    def generate(self, input_ids, attention_mask=None, streamer=None, stopping_criteria=None, max_new_tokens=None,
                 **kwargs):
        self.prompts.append(self.tokenizer.decode(input_ids[0].tolist()))
        seq = input_ids
        if streamer:
            streamer.put(input_ids[0])
        stops = set(self.tokenizer.stop_token_ids)
        for t in self.reply_ids[:max_new_tokens or None]:
            seq = torch.cat([seq, torch.tensor([[t]])], 1)
            if streamer:
                streamer.put(torch.tensor([t]))
            if t in stops or (stopping_criteria and any(bool(c(seq, None).all()) for c in stopping_criteria)):
                break
        if streamer:
            streamer.end()
        return seq


def scripted(demo, reply: str, **kwargs):
    from common.langchain_chatglm3 import ChatGLM3ChatModel
    model = ScriptedModel(demo[1], reply, end=kwargs.pop("end", "<|user|>"))
    return ChatGLM3ChatModel(model=model, tokenizer=demo[1], **kwargs), model


WEATHER_CALL = "get_weather\n```python\ntool_call(city_name='北京')\n```"


def get_weather(city_name: str) -> str:
    """Get the current weather for `city_name`"""
    return f"{city_name}: sunny"


# ============================================================================================== mapping and tools
def test_messages_become_chatglm3_roles(demo):
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    chat, model = scripted(demo, "好的", end="<|user|>")
    msgs = [SystemMessage("你是助手"), HumanMessage("北京天气？"),
            AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city_name": "北京"}, "id": "c1"}]),
            ToolMessage('{"weather": "晴"}', tool_call_id="c1"), HumanMessage("谢谢")]
    out = chat.bind_tools([get_weather]).invoke(msgs)
    assert out.content == "好的" and out.tool_calls == []
    prompt = model.prompts[0]
    order = [prompt.index(t) for t in ("<|system|>", "你是助手", "<|user|>", "北京天气？",
                                       "<|assistant|>get_weather", "tool_call(city_name='北京')",
                                       "<|observation|>", '{"weather": "晴"}', "谢谢")]
    assert order == sorted(order)
    assert prompt.rstrip().endswith("<|assistant|>")
    assert '"name": "get_weather"' in prompt  # the tool schema is in ChatGLM3's tool system message


def test_tool_schemas_from_every_kind_of_tool():
    from langchain_core.tools import tool
    from pydantic import BaseModel, Field

    from common.langchain_chatglm3 import tool_to_chatglm

    class Search(BaseModel):
        """Search the FAQ."""
        query: str = Field(description="what to look for")

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    as_dict = {"type": "function", "function": {"name": "track", "description": "追踪股票",
                                                "parameters": {"type": "object", "properties": {}}}}
    schemas = [tool_to_chatglm(t) for t in (Search, add, get_weather, as_dict)]
    assert [s["name"] for s in schemas] == ["Search", "add", "get_weather", "track"]
    assert schemas[0]["parameters"]["properties"]["query"]["description"] == "what to look for"
    assert set(schemas[1]["parameters"]["properties"]) == {"a", "b"}
    assert schemas[2]["description"].startswith("Get the current weather")


def test_tool_call_becomes_ai_message_tool_calls(demo):
    chat, _ = scripted(demo, WEATHER_CALL, end="<|observation|>")
    out = chat.bind_tools([get_weather]).invoke("北京天气怎么样？")
    assert out.content == ""
    assert [(c["name"], c["args"]) for c in out.tool_calls] == [("get_weather", {"city_name": "北京"})]
    assert out.tool_calls[0]["id"].startswith("call_")
    assert out.response_metadata["finish_reason"] == "tool_calls"
    assert out.usage_metadata["output_tokens"] > 0 and out.usage_metadata["input_tokens"] > 0


def test_tool_call_chunks_while_streaming(demo):
    chat, _ = scripted(demo, WEATHER_CALL, end="<|observation|>")
    chunks = list(chat.bind_tools([get_weather]).stream("北京天气怎么样？"))
    tcc = [c for ch in chunks for c in ch.tool_call_chunks]
    assert tcc and tcc[0]["name"] == "get_weather" and tcc[0]["id"].startswith("call_") and tcc[0]["index"] == 0
    merged = chunks[0]
    for ch in chunks[1:]:
        merged = merged + ch
    assert merged.tool_calls == [{"name": "get_weather", "args": {"city_name": "北京"}, "id": tcc[0]["id"],
                                  "type": "tool_call"}]
    assert merged.usage_metadata["total_tokens"] > 0


def test_text_streams_token_by_token_and_equals_invoke(demo):
    chat, _ = scripted(demo, "你好！我是 ChatGLM3。")
    chunks = [c.content for c in chat.stream("你好")]
    assert len([c for c in chunks if c]) > 3
    assert "".join(chunks) == chat.invoke("你好").content == "你好！我是 ChatGLM3。"


def test_stop_sequences_cut_the_reply(demo):
    chat, _ = scripted(demo, "第一句。第二句。第三句。")
    assert chat.invoke("hi", stop=["。"]).content == "第一句"
    assert "".join(c.content for c in chat.stream("hi", stop=["第二"])) == "第一句。"
    assert chat.invoke("hi").response_metadata["finish_reason"] == "stop"
    assert chat.invoke("hi", max_tokens=2).response_metadata["finish_reason"] == "length"


def test_with_structured_output_forces_the_schema_tool(demo):
    from pydantic import BaseModel

    class Weather(BaseModel):
        """A weather query."""
        city_name: str

    # forced: the adapter writes "Weather\n" itself, the model only writes the call's arguments
    chat, model = scripted(demo, "```python\ntool_call(city_name='上海')\n```", end="<|observation|>")
    assert chat.with_structured_output(Weather).invoke("上海天气") == Weather(city_name="上海")
    assert model.prompts[0].endswith("<|assistant|>Weather\n")
    chat, _ = scripted(demo, "```python\ntool_call(city_name='上海')\n```", end="<|observation|>")
    assert chat.with_structured_output(Weather.model_json_schema()).invoke("上海天气") == {"city_name": "上海"}


def test_a_forced_call_that_does_not_parse_is_an_invalid_tool_call(demo):
    from pydantic import BaseModel

    class Weather(BaseModel):
        """A weather query."""
        city_name: str

    chat, _ = scripted(demo, "这不是调用", end="<|observation|>")
    out = chat.with_structured_output(Weather, include_raw=True).invoke("x")
    assert out["parsed"] is None and out["raw"].content == "" and out["raw"].tool_calls == []
    assert out["raw"].invalid_tool_calls[0]["name"] == "Weather"
    merged = None
    for ch in chat.bind_tools([Weather], tool_choice="Weather").stream("x"):
        merged = ch if merged is None else merged + ch
    assert merged.content == "" and merged.invalid_tool_calls[0]["args"] == "这不是调用"


def test_invalid_tool_call_is_never_executed(demo):
    chat, _ = scripted(demo, "get_weather\n```python\n__import__('os').system('echo pwned')\n```",
                       end="<|observation|>")
    out = chat.bind_tools([get_weather]).invoke("x")
    assert out.tool_calls == []  # returned as text (or an invalid call), never run


def test_async_invoke_stream_batch(demo):
    chat, _ = scripted(demo, "好的。")

    async def go():
        one = await chat.ainvoke("a")
        parts = [c.content async for c in chat.astream("b")]
        many = await chat.abatch(["c", "d", "e"])
        return one, parts, many

    one, parts, many = asyncio.run(go())
    assert one.content == "".join(parts) == "好的。"
    assert [m.content for m in many] == ["好的。"] * 3


def test_llm_call_stream_stop_and_identifying_params(demo):
    from common.langchain_chatglm3 import ChatGLM3LLM
    model = ScriptedModel(demo[1], "甲。乙。丙。")
    llm = ChatGLM3LLM(model=model, tokenizer=demo[1], temperature=0.1, max_new_tokens=50, repetition_penalty=1.1)
    assert llm.invoke("你好") == "甲。乙。丙。"
    assert "<|user|>" in model.prompts[0] and "你好" in model.prompts[0]  # the string is ChatGLM3's user turn
    assert "".join(llm.stream("你好")) == "甲。乙。丙。"
    assert llm.invoke("你好", stop=["乙"]) == "甲。"
    params = llm._identifying_params
    assert params["temperature"] == 0.1 and params["max_tokens"] == 50 and params["repetition_penalty"] == 1.1
    assert llm._llm_type == "chatglm3"


def test_one_shared_model_and_the_factory(demo):
    from common.cli import GenerationArgs, ModelArgs, ServerArgs
    from common.langchain_chatglm3 import (ChatGLM3ChatModel, ChatGLM3LLM, chat_model_from_config,
                                           llm_from_config, shared_model_and_tokenizer)

    @dataclasses.dataclass
    class Cfg(ModelArgs, GenerationArgs, ServerArgs):
        pass

    cfg = Cfg(model=DEMO, max_new_tokens=7, temperature=0.0)
    chat, llm = chat_model_from_config(cfg), llm_from_config(cfg)
    assert isinstance(chat, ChatGLM3ChatModel) and isinstance(llm, ChatGLM3LLM)
    assert chat.max_tokens == 7 and chat.temperature == 0.0 and chat.in_process
    assert chat._local().model is llm._local().model is shared_model_and_tokenizer(DEMO)[0] is demo[0]
    assert chat.uses_demo_model()
    served = chat_model_from_config(Cfg(base_url="http://127.0.0.1:8000", api_key="k"))
    assert served.base_url == "http://127.0.0.1:8000/v1" and not served.in_process


def test_a_prompt_longer_than_the_context_is_a_clear_error(demo):
    from common.langchain_chatglm3 import ContextLengthError
    chat, model = scripted(demo, "好")
    with pytest.raises(ContextLengthError, match="context is 512"):  # the demo model's seq_length
        chat.invoke("很长的文字" * 200)
    assert model.prompts == []  # refused before generating
    assert chat.invoke("短", max_tokens=100_000).content == "好"  # max_tokens is clamped to the room left


def test_bad_arguments_are_clear():
    from common.cli import UserError
    from common.langchain_chatglm3 import ChatGLM3ChatModel
    with pytest.raises(ValueError, match="either base_url"):
        ChatGLM3ChatModel(base_url="http://127.0.0.1:1", model_path=DEMO)
    with pytest.raises(UserError, match="not an http"):
        ChatGLM3ChatModel(base_url="127.0.0.1:8000")


# ============================================================================================== demo model, end to end
def test_demo_model_in_process(demo):
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3Embeddings
    chat = ChatGLM3ChatModel(model_path=DEMO, temperature=0, max_tokens=12, quiet=True)
    out = chat.invoke("你好")
    assert out.content and out.usage_metadata["output_tokens"] <= 13
    call = chat.bind_tools([get_weather]).invoke("北京的天气怎么样？")  # the demo model learned this tool
    assert call.tool_calls and call.tool_calls[0]["name"] == "get_weather"
    emb = ChatGLM3Embeddings(model_path=DEMO, quiet=True)
    a, b = emb.embed_documents(["你好", "今天天气"]), emb.embed_query("你好")
    assert len(a) == 2 and len(a[0]) == demo[0].config.hidden_size and a[0] == pytest.approx(b, abs=1e-5)


# ============================================================================================== errors
@pytest.fixture()
def error_server():
    """Loopback server answering every request with HTTP 503 and an OpenAI-style error body."""
    class H(BaseHTTPRequestHandler):
        def _reply(self):
            body = json.dumps({"error": {"message": "engine overloaded", "type": "server_error"}}).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_a_clear_error_naming_the_url():
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3Embeddings, ChatGLM3LLM, ChatGLM3ServerError
    url = f"http://127.0.0.1:{_free_port()}/v1"
    t = time.time()
    for obj, call in ((ChatGLM3ChatModel(base_url=url, max_retries=0, model="m"), lambda m: m.invoke("hi")),
                      (ChatGLM3ChatModel(base_url=url, max_retries=0, model="m"), lambda m: list(m.stream("hi"))),
                      (ChatGLM3ChatModel(base_url=url, max_retries=0), lambda m: asyncio.run(m.ainvoke("hi"))),
                      (ChatGLM3LLM(base_url=url, max_retries=0), lambda m: m.invoke("hi")),
                      (ChatGLM3Embeddings(base_url=url, max_retries=0), lambda m: m.embed_query("hi"))):
        with pytest.raises(ChatGLM3ServerError, match="cannot reach the server at " + url):
            call(obj)
    assert time.time() - t < 10


def test_http_errors_and_timeouts_name_the_url(error_server):
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3ServerError
    chat = ChatGLM3ChatModel(base_url=error_server, max_retries=0, model="m")
    with pytest.raises(ChatGLM3ServerError, match=r"at .*:\d+/v1 answered HTTP 503: engine overloaded") as info:
        chat.invoke("hi")
    assert info.value.status_code == 503
    # a server that accepts the connection and never answers: a timeout error, not a hang
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        t = time.time()
        with pytest.raises(ChatGLM3ServerError, match="did not answer within 0.5 s"):
            ChatGLM3ChatModel(base_url=url, timeout=0.5, max_retries=0, model="m").invoke("hi")
        assert time.time() - t < 5
    finally:
        silent.close()


# ============================================================================================== through the server
@pytest.fixture(scope="module")
def server(demo):
    from ch03_gradio.openai_api import Config, start_in_thread
    handle = start_in_thread(Config(port=0, log_level="warning", served_model_name="chatglm3-demo"), *demo)
    yield handle.url
    handle.stop()


def test_adapter_through_the_server(server, demo):
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3Embeddings, ChatGLM3LLM
    chat = ChatGLM3ChatModel(base_url=server, temperature=0, max_tokens=10)
    local = ChatGLM3ChatModel(model=demo[0], tokenizer=demo[1], temperature=0, max_tokens=10)
    assert chat.invoke("你好").content == local.invoke("你好").content  # same model, same greedy answer
    assert chat.uses_demo_model()
    merged = None
    for ch in chat.bind_tools([get_weather]).stream("北京的天气怎么样？"):
        merged = ch if merged is None else merged + ch
    assert merged.tool_calls[0]["name"] == "get_weather" and merged.tool_calls[0]["id"]
    assert merged.usage_metadata["input_tokens"] > 0
    many = asyncio.run(chat.abatch(["你好", "谢谢", "再见"]))
    assert len(many) == 3 and all(m.content for m in many)
    assert ChatGLM3LLM(base_url=server, temperature=0, max_tokens=10).invoke("你好")
    far = ChatGLM3Embeddings(base_url=server).embed_query("天气")
    near = ChatGLM3Embeddings(model=demo[0], tokenizer=demo[1]).embed_query("天气")
    assert far == pytest.approx(near, abs=1e-4)


def test_chatopenai_with_a_tool_against_our_server(server):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI
    llm = ChatOpenAI(base_url=server + "/v1", api_key="unused", model="chatglm3-demo", temperature=0,
                     max_tokens=40)
    with_tools = llm.bind_tools([get_weather])
    msgs = [HumanMessage("北京的天气怎么样？")]
    ai = with_tools.invoke(msgs)
    assert ai.tool_calls and ai.tool_calls[0]["name"] == "get_weather"
    call = ai.tool_calls[0]
    msgs += [ai, ToolMessage("晴，25度", tool_call_id=call["id"])]
    final = with_tools.invoke(msgs)  # the tool result goes back as <|observation|>
    assert isinstance(final.content, str)


# ============================================================================================== LangChain's own suite
from langchain_tests.integration_tests import ChatModelIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import ChatModelUnitTests  # noqa: E402

from common.langchain_chatglm3 import ChatGLM3ChatModel  # noqa: E402


class TestChatGLM3StandardUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self):
        return ChatGLM3ChatModel

    @property
    def chat_model_params(self):
        return {"model_path": DEMO, "quiet": True}

    # supports_image_inputs / audio / video / pdf stay False (the defaults): ChatGLM3 reads text only.
    # init_from_env_params stays unset: the key is read from $CHATGLM3_API_KEY when a request is sent, not at init.


def async_suite(cls):
    """langchain-tests' async tests need pytest-asyncio's mark; put on the whole class it also lands on the sync
    tests, which pytest-asyncio only warns about (harmless): that warning is silenced here."""
    quiet = pytest.mark.filterwarnings("ignore:.*marked with '@pytest.mark.asyncio' but it is not an async function")
    return pytest.mark.asyncio(quiet(cls))


from langchain_tests.integration_tests import EmbeddingsIntegrationTests  # noqa: E402
from langchain_tests.unit_tests import EmbeddingsUnitTests  # noqa: E402

from common.langchain_chatglm3 import ChatGLM3Embeddings  # noqa: E402


class TestChatGLM3EmbeddingsStandardUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self):
        return ChatGLM3Embeddings

    @property
    def embedding_model_params(self):
        return {"model_path": DEMO, "quiet": True}


@async_suite
class TestChatGLM3EmbeddingsStandardIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return ChatGLM3Embeddings

    @property
    def embedding_model_params(self):
        return {"model_path": DEMO, "quiet": True}


# What the 7M-parameter demo model cannot do: call a tool it never saw with sensible arguments (it was trained on
# get_weather/track-style tools only), or fill an arbitrary schema. The adapter side of these features is tested
# above with a scripted model; with real weights (CHATGLM3_MODEL) the class below runs all of them.
_DEMO_CANNOT = {
    "test_tool_calling": "demo model: calls unseen tools with made-up arguments",
    "test_tool_calling_async": "demo model: calls unseen tools with made-up arguments",
    "test_bind_runnables_as_tools": "demo model: calls unseen tools with made-up arguments",
    "test_tool_calling_with_no_arguments": "demo model: adds a city_name argument to every tool",
    "test_unicode_tool_call_integration": "demo model: cannot copy the customer name into an unseen tool",
    "test_structured_output": "demo model: cannot fill an arbitrary schema (forced call, nonsense arguments)",
    "test_structured_output_async": "demo model: cannot fill an arbitrary schema",
    "test_structured_output_pydantic_2_v1": "demo model: cannot fill an arbitrary schema",
    "test_structured_output_optional_param": "demo model: cannot fill an arbitrary schema",
    "test_agent_loop": "demo model: does not call the unseen weather tool of the test",
    "test_tool_choice": "demo model: a forced call of an unseen tool gets arguments that do not parse (v3 writes "
                        "longer calls than the test's 8 tokens)",
}


def _skipped_copy(func, reason: str):
    """A copy of the base test (keeping its parametrize marks) marked as an expected failure that is not run
    (``run=False``: no time spent), leaving the base class intact. langchain-tests asks for xfail + reason."""
    new = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    new.__dict__.update(copy.deepcopy(func.__dict__))
    new.__qualname__, new.__doc__, new.__kwdefaults__ = func.__qualname__, func.__doc__, func.__kwdefaults__
    return pytest.mark.xfail(reason=reason, run=False)(new)


class _Integration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self):
        return ChatGLM3ChatModel

    @property
    def chat_model_params(self):
        # short greedy answers keep ~40 generations fast; stop=[] / timeout / max_retries are the standard ones
        return {"model_path": DEMO, "quiet": True, "max_tokens": 8, "temperature": 0}

    @property
    def supports_json_mode(self):
        return False  # ChatGLM3 has no JSON mode (no constrained decoding); structured output uses a forced tool

    @property
    def returns_usage_metadata(self):
        return True


@async_suite
class TestChatGLM3StandardIntegration(_Integration):
    pass


for _name, _why in _DEMO_CANNOT.items():
    setattr(TestChatGLM3StandardIntegration, _name, _skipped_copy(getattr(_Integration, _name), _why))


@pytest.mark.real_model
@async_suite
class TestChatGLM3StandardIntegrationRealModel(_Integration):
    """The whole suite, nothing skipped, on the real ChatGLM3-6B (CHATGLM3_MODEL)."""

    @property
    def chat_model_params(self):
        return {"model_path": os.environ.get("CHATGLM3_MODEL"), "quiet": True, "max_tokens": 100,
                "temperature": 0, "device": "auto", "precision": "bf16"}


@pytest.mark.cuda
def test_adapter_on_cuda():
    """The in-process path builds its tensors on the model's device (not verified on the CPU build machine)."""
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3Embeddings
    chat = ChatGLM3ChatModel(model_path=DEMO, device="cuda", temperature=0, max_tokens=8, quiet=True)
    assert chat.invoke("你好").content
    merged = None
    for ch in chat.bind_tools([get_weather]).stream("北京的天气怎么样？"):
        merged = ch if merged is None else merged + ch
    assert merged.tool_calls and merged.tool_calls[0]["name"] == "get_weather"
    assert len(ChatGLM3Embeddings(model_path=DEMO, device="cuda", quiet=True).embed_query("你好")) == 256
