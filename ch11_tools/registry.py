"""11.2 一个可以放进生产环境的工具注册表 — ``ToolRegistry`` and ``@register_tool``.

The official ``tool_registry.py`` (walked through in ``official_registry.py``) registers a function with a
decorator that reads ``Annotated[type, "description", required]`` hints and the docstring, and ``dispatch_tool``
calls it with whatever the model wrote. This registry keeps that elegant decorator and adds what production needs:

* schemas from **three** styles: the official ``Annotated[type, "description", required]``, ordinary type hints
  (``str``, ``int``, ``list[str]``, ``Literal[...]``, ``Optional``, ``Enum``, defaults, Google-style ``Args:``
  docstrings) and pydantic models (a parameter typed with a ``BaseModel``, or ``args_model=`` for all arguments);
* the model's arguments are validated against the JSON Schema (``jsonschema``) **before** the call; names not in
  the schema are refused;
* an unknown tool, bad arguments, an exception or a timeout come back as an *error observation* (JSON text the
  model can read and correct) — the agent loop never crashes; results are truncated to ``max_chars``;
* only registered functions can run: the model names a tool, the registry looks it up in a dict. Nothing the
  model writes is ever executed (calls are parsed by ``common.toolcall``).

    from ch11_tools.registry import ToolRegistry
    tools = ToolRegistry(timeout=5)

    @tools.register
    def get_weather(city_name: Annotated[str, "The name of the city to be queried", True]) -> dict:
        \"\"\"Get the current weather for `city_name`\"\"\"
        ...

    tools.chatglm_tools()          # [{"name", "description", "parameters"}]  -> ChatGLM3 system message
    tools.openai_tools()           # [{"type": "function", "function": {...}}] -> openai client ``tools=``
    result = tools.call("get_weather", {"city_name": "北京"})   # ToolResult(ok, content, error, elapsed ...)
"""
from __future__ import annotations

import copy
import enum
import inspect
import json
import re
import sys
import threading
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Annotated, Callable, Literal, Union, get_args, get_origin

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.prompts import TOOL_SYSTEM_PROMPT

DEFAULT_TIMEOUT = 10.0       # seconds a tool may run
DEFAULT_MAX_CHARS = 4000     # observation text longer than this is cut (the model's context is precious)
ERROR_MAX_CHARS = 1000       # error observations have their own limit: the model needs the whole reason
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ToolRegistrationError(TypeError):
    """A function that cannot be turned into a tool (missing hint, bad Annotated metadata, bad schema)."""


# ============================================================================================== type hints -> schema
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def _is_model(tp: Any) -> bool:
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic comes with the install
        return False
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def json_schema_for(tp: Any) -> dict:
    """JSON Schema of one Python type hint (the 11.1.1 mapping: ``str -> string``, ``list[int] -> array`` ...).

    pydantic models use their own ``model_json_schema()`` (nested ``$defs`` are kept); anything else unusual goes
    through pydantic's ``TypeAdapter``; titles are dropped because the model does not need them."""
    if tp is Any or tp is inspect.Parameter.empty:
        return {}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:                        # Annotated[int, Field(ge=0)] / Annotated[str, "doc"]
        schema = json_schema_for(args[0])
        for meta in args[1:]:
            if isinstance(meta, str):
                schema.setdefault("description", meta)
            elif type(meta).__name__ == "FieldInfo":
                schema.update(_pydantic_schema(tp))
        return schema
    if origin is Literal:
        values = list(args)
        kinds = {_SIMPLE.get(type(v)) for v in values}
        out: dict = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            out["type"] = kinds.pop()
        return out
    if origin in (Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:                     # Optional[X]: X or null
            inner = json_schema_for(non_null[0])
            if "type" in inner and isinstance(inner["type"], str):
                return {**inner, "type": [inner["type"], "null"]}
            return {"anyOf": [inner, {"type": "null"}]}
        return {"anyOf": [json_schema_for(a) for a in args]}
    if origin in (list, set, frozenset) or tp in (list, set, frozenset):
        out = {"type": "array"}
        if args:
            out["items"] = json_schema_for(args[0])
        if origin in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is tuple or tp is tuple:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema_for(args[0])}
        return {"type": "array", "prefixItems": [json_schema_for(a) for a in args], "items": False,
                "minItems": len(args), "maxItems": len(args)}
    if origin is dict or tp is dict:
        out = {"type": "object"}
        if args:
            out["additionalProperties"] = json_schema_for(args[1])
        return out
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        kinds = {_SIMPLE.get(type(v)) for v in values}
        return {"enum": values, **({"type": kinds.pop()} if len(kinds) == 1 else {})}
    if _is_model(tp):
        return _strip_titles(tp.model_json_schema())
    return _pydantic_schema(tp)


def _pydantic_schema(tp: Any) -> dict:
    try:
        from pydantic import TypeAdapter
        return _strip_titles(TypeAdapter(tp).json_schema())
    except Exception as exc:  # noqa: BLE001 - any failure means: this hint cannot be described
        raise ToolRegistrationError(f"cannot describe type {tp!r} as JSON Schema ({exc})") from None


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _hoist_defs(properties: dict) -> dict:
    """Move nested pydantic ``$defs`` to the top of the parameters schema, where ``#/$defs/X`` points."""
    defs: dict = {}
    for prop in properties.values():
        if isinstance(prop, dict) and "$defs" in prop:
            defs.update(prop.pop("$defs"))
    return defs


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """``(description, {param: text})`` from a docstring; a Google-style ``Args:`` (or ``参数:``) block gives the
    parameter texts, the rest is the tool description."""
    doc = inspect.cleandoc(doc or "")
    lines = doc.splitlines()
    params: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.strip() in ("Args:", "Arguments:", "Parameters:", "参数:", "参数："):
            current = None
            for arg_line in lines[i + 1:]:
                m = re.match(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?\s*[:：]\s*(.*)$", arg_line)
                if m:
                    current = m.group(1)
                    params[current] = m.group(2).strip()
                elif current and arg_line.startswith("    ") and arg_line.strip():
                    params[current] += " " + arg_line.strip()
                elif arg_line.strip() and not arg_line.startswith(" "):
                    break
            return "\n".join(lines[:i]).strip(), params
    return doc.strip(), params


def schema_from_function(func: Callable, official: bool = False) -> tuple[str, dict]:
    """``(description, parameters JSON Schema)`` for ``func`` from its signature, hints and docstring.

    Each parameter may be written three ways (mixing is fine):

    * ``Annotated[str, "description", True]`` — exactly the official style (the bool says *required*);
    * ``city: str`` / ``days: int = 3`` — ordinary hints; required = no default; text from ``Args:`` in the doc;
    * ``query: SomePydanticModel`` — a nested object described by the model.

    ``official=True`` insists on the official style and raises like the official decorator does."""
    description, doc_params = parse_docstring(inspect.getdoc(func))
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable forward references: fall back to the raw annotations
        hints = {}
    properties: dict[str, dict] = {}
    required: list[str] = []
    var_keyword = False
    for name, param in inspect.signature(func).parameters.items():
        if param.kind == param.VAR_KEYWORD:
            var_keyword = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            raise ToolRegistrationError(f"parameter {name!r} of {func.__name__}: tools take keyword arguments "
                                        "only (no *args or positional-only parameters)")
        hint = hints.get(name, param.annotation)
        if hint is inspect.Parameter.empty:
            raise ToolRegistrationError(f"parameter {name!r} of {func.__name__} has no type annotation")
        is_required = param.default is inspect.Parameter.empty
        if get_origin(hint) is Annotated:
            base, *meta = get_args(hint)
            texts = [m for m in meta if isinstance(m, str)]
            flags = [m for m in meta if isinstance(m, bool)]
            if official and (len(meta) < 2 or not texts or not flags):
                raise ToolRegistrationError(f"Annotation for {name!r} must be Annotated[type, description, required]")
            schema = json_schema_for(base)
            for m in meta:
                if type(m).__name__ == "FieldInfo":
                    schema.update(_pydantic_schema(hint))
            if texts:
                schema["description"] = texts[0]
            if flags:
                is_required = flags[0]
        else:
            if official:
                raise ToolRegistrationError(f"Annotation type for {name!r} must be typing.Annotated")
            schema = json_schema_for(hint)
        if name in doc_params and "description" not in schema:
            schema["description"] = doc_params[name]
        if "description" in schema:            # description first, as the official schemas write it
            schema = {"description": schema.pop("description"), **schema}
        if param.default is not inspect.Parameter.empty and _jsonable(param.default):
            schema.setdefault("default", param.default)
        properties[name] = schema
        if is_required:
            required.append(name)
    parameters: dict = {"type": "object", "properties": properties}
    defs = _hoist_defs(properties)
    if defs:
        parameters["$defs"] = defs
    if required:
        parameters["required"] = required
    # 不写 additionalProperties=false：模型看到的工具说明与官方格式一致；多余的参数名由注册表的 strict 检查拒绝
    return description, parameters


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def official_params(parameters: dict) -> list[dict]:
    """The official demo's ``params`` list (``name, description, type, required``) for a JSON Schema."""
    required = set(parameters.get("required", []))
    out = []
    for name, prop in parameters.get("properties", {}).items():
        out.append({"name": name, "description": prop.get("description", ""), "type": prop.get("type", "any"),
                    "required": name in required})
    return out


# ============================================================================================== tools and results
@dataclass
class Tool:
    """One registered tool: the function and its schema."""

    name: str
    func: Callable[..., Any]
    description: str
    parameters: dict
    timeout: float | None = None
    max_chars: int | None = None
    args_model: Any = None                 # a pydantic model validating all arguments (``args_model=``)
    accepts_extra: bool = False            # the function takes **kwargs

    def chatglm_schema(self) -> dict:
        """``{"name", "description", "parameters"}`` — what ChatGLM3's tools system message lists."""
        return {"name": self.name, "description": self.description, "parameters": copy.deepcopy(self.parameters)}

    def openai_schema(self) -> dict:
        """``{"type": "function", "function": {...}}`` — the OpenAI ``tools=`` form."""
        return {"type": "function", "function": self.chatglm_schema()}

    def official_schema(self) -> dict:
        """``{"name", "description", "params": [...]}`` — the official composite demo's ``get_tools()`` form."""
        return {"name": self.name, "description": self.description, "params": official_params(self.parameters)}


@dataclass
class ToolResult:
    """What one call produced. ``content`` is the observation text sent back to the model."""

    name: str
    arguments: Any
    ok: bool
    content: str
    error: str | None = None     # None | "unknown_tool" | "invalid_arguments" | "exception" | "timeout"
    value: Any = None            # the raw return value (for UIs and tests), None on error
    elapsed: float = 0.0
    truncated: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "arguments": self.arguments, "ok": self.ok, "error": self.error,
                "content": self.content, "elapsed_s": round(self.elapsed, 4), "truncated": self.truncated}


class ToolTimeout(TimeoutError):
    pass


def run_with_timeout(func: Callable, kwargs: dict, timeout: float | None) -> Any:
    """``func(**kwargs)`` in a daemon thread; :class:`ToolTimeout` after ``timeout`` seconds.

    Python cannot kill a thread: a tool that overruns keeps running in the background (a daemon thread, so it
    never blocks the program from exiting) while the agent goes on. Tools that may hang for long should use
    their own timeouts (HTTP clients, database statements) or run in a subprocess."""
    if not timeout:
        return func(**kwargs)
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = func(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"tool-{getattr(func, '__name__', 'call')}", daemon=True).start()
    if not done.wait(timeout):
        raise ToolTimeout(f"took longer than {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def to_observation(value: Any) -> str:
    """Return value -> observation text: strings as they are, everything else as JSON (Chinese kept readable)."""
    if isinstance(value, str):
        return value
    if _is_model(type(value)):
        value = value.model_dump(mode="json")
    return json.dumps(value, ensure_ascii=False, default=str)


def error_observation(message: str, **extra: Any) -> str:
    """The JSON text an error becomes: ``{"error": "..."}`` — the model reads it and may try again."""
    return json.dumps({"error": message, **extra}, ensure_ascii=False)


def truncate(text: str, max_chars: int | None) -> tuple[str, bool]:
    if not max_chars or len(text) <= max_chars:
        return text, False
    return text[:max_chars] + f"…[truncated {len(text) - max_chars} characters]", True


# ============================================================================================== the registry
class ToolRegistry:
    """Tools by name: register, describe (ChatGLM3 / OpenAI / official forms), validate, call.

    ``timeout`` and ``max_chars`` are defaults for every tool (each tool may override them). ``strict`` (default)
    refuses argument names that are not in a tool's schema even when the schema itself allows them."""

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT, max_chars: int | None = DEFAULT_MAX_CHARS,
                 strict: bool = True):
        self.timeout, self.max_chars, self.strict = timeout, max_chars, strict
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------ registering
    def register(self, func: Callable | None = None, *, name: str | None = None, description: str | None = None,
                 schema: dict | None = None, args_model: Any = None, timeout: float | None = None,
                 max_chars: int | None = None, official: bool = False, replace: bool = False):
        """Register ``func`` (use as ``@registry.register`` or ``@registry.register(timeout=2)``).

        ``schema``: a parameters JSON Schema, or a whole ChatGLM3 tool dict ``{"name", "description",
        "parameters"}`` (e.g. the official ``get_weather`` from ``common.prompts``) — used as given instead of
        reading the hints. ``args_model``: a pydantic model whose fields are the arguments (validated and coerced
        by pydantic, then passed as keywords). ``official=True``: insist on ``Annotated[type, desc, required]``."""
        def decorate(fn: Callable) -> Callable:
            self.add(self._build(fn, name, description, schema, args_model, timeout, max_chars, official), replace)
            return fn

        return decorate(func) if func is not None else decorate

    __call__ = register   # a registry instance is itself a decorator: ``@tools``

    def _build(self, fn, name, description, schema, args_model, timeout, max_chars, official) -> Tool:
        if not callable(fn):
            raise ToolRegistrationError(f"{fn!r} is not callable")
        tool_name = name or (schema or {}).get("name") or fn.__name__
        accepts_extra = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())
        if schema is not None:
            desc = description or schema.get("description") or parse_docstring(inspect.getdoc(fn))[0]
            parameters = copy.deepcopy(schema.get("parameters", schema) if "name" in schema else schema)
        elif args_model is not None:
            if not _is_model(args_model):
                raise ToolRegistrationError("args_model must be a pydantic BaseModel subclass")
            parameters = _strip_titles(args_model.model_json_schema())
            desc = description or parse_docstring(inspect.getdoc(fn))[0] or (args_model.__doc__ or "").strip()
        else:
            desc_doc, parameters = schema_from_function(fn, official=official)
            desc = description or desc_doc
        if official and not desc:
            raise ToolRegistrationError(f"tool {tool_name!r} needs a docstring (its description)")
        return Tool(tool_name, fn, desc or "", parameters, timeout, max_chars, args_model, accepts_extra)

    def add(self, tool: Tool, replace: bool = False) -> Tool:
        """Add a ready :class:`Tool` (checks the name and that the schema is valid JSON Schema)."""
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        if not NAME_RE.match(tool.name):
            raise ToolRegistrationError(f"tool name {tool.name!r} must be a Python-style identifier (letters, "
                                        "digits, _; at most 64 characters)")
        if tool.name in self._tools and not replace:
            raise ToolRegistrationError(f"tool {tool.name!r} is already registered (pass replace=True)")
        if tool.parameters.get("type", "object") != "object":
            raise ToolRegistrationError(f"the parameters of {tool.name!r} must be a JSON Schema of type object")
        cls = validator_for(tool.parameters)
        try:
            cls.check_schema(tool.parameters)
        except SchemaError as exc:
            raise ToolRegistrationError(f"invalid JSON Schema for {tool.name!r}: {exc.message}") from None
        self._tools[tool.name] = tool
        self._validators[tool.name] = cls(tool.parameters)
        return tool

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)
        self._validators.pop(name, None)

    # ------------------------------------------------------------------------------------------ describing
    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self):
        return iter(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def subset(self, *names: str) -> "ToolRegistry":
        """A registry with only ``names`` (same functions and settings): offer a model just what a task needs."""
        out = ToolRegistry(self.timeout, self.max_chars, self.strict)
        for n in names:
            if n not in self._tools:
                raise KeyError(f"no tool named {n!r}; registered: {', '.join(self._tools) or '(none)'}")
            out.add(self._tools[n])
        return out

    def chatglm_tools(self) -> list[dict]:
        """The tool list of ChatGLM3's system message (``{"name", "description", "parameters"}`` each)."""
        return [t.chatglm_schema() for t in self._tools.values()]

    def openai_tools(self) -> list[dict]:
        """The ``tools=`` list of the OpenAI chat-completions API."""
        return [t.openai_schema() for t in self._tools.values()]

    def official_tools(self) -> dict[str, dict]:
        """What the official ``get_tools()`` returns: ``{name: {"name", "description", "params": [...]}}``."""
        return {t.name: t.official_schema() for t in self._tools.values()}

    def system_message(self, content: str = TOOL_SYSTEM_PROMPT) -> dict:
        """The first history item that announces the tools, as the official demos build it."""
        return {"role": "system", "content": content, "tools": self.chatglm_tools()}

    # ------------------------------------------------------------------------------------------ calling
    def validate(self, name: str, arguments: Any) -> list[str]:
        """Problems with ``arguments`` for tool ``name`` (empty list: valid). Nothing is called."""
        tool = self._tools.get(name)
        if tool is None:
            return [f"unknown tool {name!r}"]
        if not isinstance(arguments, dict):
            return [f"arguments must be an object (key=value pairs), got {type(arguments).__name__}"]
        problems = []
        if self.strict and not tool.accepts_extra and tool.parameters.get("additionalProperties") is not False:
            allowed = set(tool.parameters.get("properties", {}))
            extra = sorted(set(arguments) - allowed)
            if extra:
                problems.append(f"unexpected argument(s) {', '.join(map(repr, extra))}; allowed: "
                                f"{', '.join(sorted(allowed)) or '(none)'}")
        for err in sorted(self._validators[name].iter_errors(arguments), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path)
            problems.append(f"{where}: {err.message}" if where else err.message)
        return problems

    def call(self, name: str, arguments: Any = None) -> ToolResult:
        """Validate, run (with the timeout), turn the result into observation text. Never raises for anything the
        model can cause: unknown tool, bad arguments, an exception in the tool, a timeout."""
        start = time.perf_counter()
        arguments = {} if arguments is None else arguments
        tool = self._tools.get(name)

        def fail(kind: str, message: str) -> ToolResult:
            text, cut = truncate(error_observation(message), ERROR_MAX_CHARS)
            return ToolResult(name, arguments, False, text, kind, None, time.perf_counter() - start, cut)

        if tool is None:
            available = ", ".join(self._tools) or "(none)"
            return fail("unknown_tool", f"unknown tool {str(name)[:80]!r}; available tools: {available}")
        problems = self.validate(name, arguments)
        if problems:
            return fail("invalid_arguments", f"invalid arguments for {name}: " + "; ".join(problems))
        try:
            kwargs = self._coerce(tool, copy.deepcopy(arguments))   # a tool that mutates its input can't alter the trace
        except Exception as exc:  # noqa: BLE001 - pydantic ValidationError and friends
            return fail("invalid_arguments", f"invalid arguments for {name}: {_short(exc)}")
        timeout = tool.timeout if tool.timeout is not None else self.timeout
        try:
            value = run_with_timeout(tool.func, kwargs, timeout)
        except ToolTimeout as exc:
            return fail("timeout", f"{name} {exc}")
        except Exception as exc:  # noqa: BLE001 - the model must see the problem, the loop must go on
            return fail("exception", f"{name} failed: {type(exc).__name__}: {_short(exc)}")
        try:
            text = to_observation(value)
        except Exception as exc:  # noqa: BLE001
            return fail("exception", f"{name} returned a value that cannot be shown: {_short(exc)}")
        text, cut = truncate(text, self._max_chars(tool))
        return ToolResult(name, arguments, True, text, None, value, time.perf_counter() - start, cut)

    def dispatch(self, name: str, arguments: Any = None) -> str:
        """The official ``dispatch_tool(name, params) -> str`` signature: the observation text only."""
        return self.call(name, arguments).content

    def _max_chars(self, tool: Tool | None) -> int | None:
        return tool.max_chars if tool is not None and tool.max_chars is not None else self.max_chars

    @staticmethod
    def _coerce(tool: Tool, arguments: dict) -> dict:
        """JSON values -> what the Python signature asks for (pydantic models, tuples, enums)."""
        if tool.args_model is not None:
            return dict(tool.args_model.model_validate(arguments))
        try:
            hints = typing.get_type_hints(tool.func, include_extras=True)
        except Exception:  # noqa: BLE001
            return dict(arguments)
        kwargs = {}
        for key, value in arguments.items():
            tp = hints.get(key)
            if get_origin(tp) is Annotated:
                tp = get_args(tp)[0]
            if get_origin(tp) in (Union, types.UnionType):       # Optional[X] -> X (None passes through)
                options = [a for a in get_args(tp) if a is not type(None)]
                tp = options[0] if len(options) == 1 and value is not None else None
            if tp is not None and _is_model(tp):
                value = tp.model_validate(value)
            elif isinstance(tp, type) and issubclass(tp, enum.Enum):
                value = tp(value)
            elif (tp is tuple or get_origin(tp) is tuple) and isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return kwargs

    # ------------------------------------------------------------------------------------------ LangChain
    def langchain_tools(self) -> list:
        """The tools as LangChain ``StructuredTool`` objects (for ``langchain.agents.create_agent``); each call
        still goes through :meth:`call`, so validation, timeouts and error observations apply."""
        from langchain_core.tools import StructuredTool

        def make(tool: Tool):
            def run(**kwargs: Any) -> str:
                return self.call(tool.name, kwargs).content

            return StructuredTool.from_function(func=run, name=tool.name, description=tool.description or tool.name,
                                                args_schema=tool.chatglm_schema()["parameters"])

        return [make(t) for t in self._tools.values()]


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:limit]


# ============================================================================================== module-level API
default_registry = ToolRegistry()


def register_tool(func: Callable | None = None, **options: Any):
    """``@register_tool`` on the module's :data:`default_registry` — the official decorator's name and use."""
    return default_registry.register(func, **options)


def demo_registry(timeout: float | None = DEFAULT_TIMEOUT) -> ToolRegistry:
    """The official example tools ``get_weather`` / ``track`` (offline fakes from ``common.demo_tools``) with
    their schemas **exactly** as the official demos write them (what ChatGLM3 and the demo model were trained on)."""
    from common.demo_tools import get_weather, track
    from common.prompts import example_tools

    reg = ToolRegistry(timeout=timeout)
    for fn, schema in zip((get_weather, track), example_tools("get_weather", "track")):
        reg.register(fn, schema=schema)
    return reg
