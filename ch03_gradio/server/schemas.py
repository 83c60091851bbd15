"""Request bodies of the OpenAI-style server, validated by pydantic (a bad field -> 400, never a 500).

Field names and ranges follow the OpenAI chat-completions / embeddings API; ``top_k``, ``min_tokens``,
``ignore_eos`` and ``repetition_penalty`` are vLLM's extensions (send them with the ``openai`` client through
``extra_body={...}``). Unknown fields are ignored, as vLLM does, so newer clients keep working.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# 与官方 openai_api_demo 相同的默认值 (temperature 0.8, top_p 0.8, max_tokens 1024)
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.8
DEFAULT_MAX_TOKENS = 1024
MAX_STOP = 16               # stop sequences per request (OpenAI allows 4, vLLM any number)
MAX_STOP_CHARS = 256        # characters per stop sequence (each is matched against the text after every token)
MAX_TOOLS = 128             # tools per request (OpenAI's limit)
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_\-\.\u4e00-\u9fff]{1,64}$"   # OpenAI's pattern, plus dots and CJK


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Model):
    type: Literal["text"]
    text: str


class FunctionCallIn(_Model):
    name: str = Field(min_length=1, max_length=64)
    arguments: Union[str, dict] = "{}"


class ToolCallIn(_Model):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCallIn


class ChatMessage(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Union[str, list[Union[TextPart, dict]], None] = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    function_call: FunctionCallIn | None = None


class FunctionDef(_Model):
    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, v):
        if v is not None and v.get("type", "object") != "object":
            raise ValueError("function parameters must be a JSON Schema of type 'object'")
        if v is not None and "properties" in v and not isinstance(v["properties"], dict):
            raise ValueError("'properties' of the parameters schema must be an object")
        return v


class ToolDef(_Model):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Model):
    name: str


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Model):
    include_usage: bool = False


class ResponseFormat(_Model):
    type: str


Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class ChatCompletionRequest(_Model):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Probability | None = None
    n: Annotated[int, Field(ge=1, le=16)] = 1
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: Union[Annotated[str, Field(min_length=1)], list[Annotated[str, Field(min_length=1)]], None] = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] = 0.0
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] = 0.0
    seed: int | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Union[Literal["none", "auto", "required"], NamedToolChoice, None] = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = None        # legacy
    function_call: Union[Literal["none", "auto"], NamedFunction, None] = None   # legacy
    logprobs: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    # vLLM extensions
    top_k: Annotated[int, Field(ge=-1)] = 0
    min_tokens: Annotated[int, Field(ge=0)] = 0
    ignore_eos: bool = False
    repetition_penalty: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, v):
        if isinstance(v, str):
            v = [v]
        if v is not None and len(v) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if v is not None and any(len(s) > MAX_STOP_CHARS for s in v):
            raise ValueError(f"a stop sequence may have at most {MAX_STOP_CHARS} characters")
        return v

    @field_validator("tools", "functions")
    @classmethod
    def _tool_count(cls, v):
        if v is not None and len(v) > MAX_TOOLS:
            raise ValueError(f"at most {MAX_TOOLS} tools per request")
        return v

    @model_validator(mode="after")
    def _checks(self):
        if self.logprobs:
            raise ValueError("logprobs are not supported by this server")
        if self.response_format is not None and self.response_format.type != "text":
            raise ValueError(f"response_format {self.response_format.type!r} is not supported (only 'text'); "
                             "use tools to get structured output")
        if self.tools and self.functions:
            raise ValueError("send either tools or the legacy functions, not both")
        return self


class EmbeddingRequest(_Model):
    model: str | None = None
    input: Union[Annotated[str, Field(min_length=1)], list[Annotated[str, Field(min_length=1)]],
                 list[int], list[list[int]]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(cls, v):
        if isinstance(v, list) and not v:
            raise ValueError("input must not be empty")
        if isinstance(v, list) and len(v) > 2048:
            raise ValueError("at most 2048 inputs per request")
        if isinstance(v, list) and v and isinstance(v[0], list) and any(not x for x in v):
            raise ValueError("token arrays must not be empty")
        return v


class LegacyChatRequest(_Model):
    """The book's simple endpoint for LangChain's community ``ChatGLM`` LLM class (``POST /``)."""

    prompt: str = Field(min_length=1)
    history: list[Union[list[str], dict]] = Field(default_factory=list)
    max_length: Annotated[int, Field(ge=1)] | None = None
    top_p: Probability = 0.7
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.95
