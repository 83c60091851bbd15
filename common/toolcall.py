"""Tool calls in ChatGLM3's format, parsed safely.

ChatGLM3 writes a tool call as an assistant message whose metadata is the tool name and whose content is::

    ```python
    tool_call(city_name='北京', days=3)
    ```

The official ``process_response`` runs that text with Python ``eval`` — the model's output becomes code. Here it is
only *parsed*: Python's parser builds a syntax tree (it executes nothing), and a small walker accepts exactly one
``tool_call(...)`` with keyword arguments whose values are literals (str, int, float, bool, None, lists, tuples,
dicts, JSON's true/false/null). Anything else — names, attribute access, calls inside arguments, f-strings,
operators other than a sign — is rejected with ``ToolCallError``. Size and depth are bounded, so hostile or
degenerate output fails fast instead of hanging.
"""
from __future__ import annotations

import ast
import json
from typing import Any

MAX_CALL_CHARS = 100_000
MAX_DEPTH = 32
FENCE_OPEN = "```python"


class ToolCallError(ValueError):
    """Model output that is not a well-formed, literal-only ``tool_call(...)``."""


def strip_code_fence(content: str) -> str:
    """Drop the Markdown code-fence lines around a call (the official code drops the first and last line)."""
    lines = content.strip("\n").split("\n")
    if lines and lines[0].strip().startswith("```"):
        lines = lines[1:]
    if lines and lines[-1].strip().startswith("```"):
        lines = lines[:-1]
    return "\n".join(lines).strip()


def parse_tool_call(content: str, allowed_names: tuple[str, ...] = ("tool_call",)) -> dict[str, Any]:
    """Parameters of a ``tool_call(k=v, ...)`` (fenced or not) as a dict, without executing anything."""
    if not isinstance(content, str):
        raise ToolCallError("tool call content must be text")
    if len(content) > MAX_CALL_CHARS:
        raise ToolCallError(f"tool call longer than {MAX_CALL_CHARS} characters")
    code = strip_code_fence(content)
    if not code:
        raise ToolCallError("empty tool call")
    try:
        tree = ast.parse(code, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ToolCallError(f"not a Python call expression: {exc.__class__.__name__}") from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ToolCallError("expected a single call like tool_call(city_name='北京')")
    if call.func.id not in allowed_names:
        raise ToolCallError(f"unexpected function {call.func.id!r}; expected {' or '.join(allowed_names)}")
    if call.args:
        raise ToolCallError("tool_call takes keyword arguments only")
    params: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ToolCallError("**kwargs is not allowed in a tool call")
        if kw.arg in params:
            raise ToolCallError(f"argument {kw.arg!r} given twice")
        params[kw.arg] = _literal(kw.value, 0)
    return params


_JSON_NAMES = {"true": True, "false": False, "null": None}


def _literal(node: ast.AST, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ToolCallError(f"arguments nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise ToolCallError(f"unsupported constant of type {type(node.value).__name__}")
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:  # models trained on JSON sometimes write true/null
        return _JSON_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, depth + 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ToolCallError("a sign applies to numbers only")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise ToolCallError("** unpacking is not allowed")
            key = _literal(k, depth + 1)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ToolCallError("dict keys must be literals")
            out[key] = _literal(v, depth + 1)
        return out
    raise ToolCallError(f"only literal values are allowed in a tool call, found {type(node).__name__}")


def format_tool_call(parameters: dict[str, Any], func_name: str = "tool_call") -> str:
    """``tool_call(k=v, ...)`` text exactly as the official fine-tune code writes it (``ast.unparse``).

    Values must be JSON-like literals and names Python identifiers — anything else would print code that
    ``parse_tool_call`` (rightly) refuses, so it is a ``ToolCallError`` here."""
    if not isinstance(parameters, dict):
        raise ToolCallError("tool call parameters must be an object")
    keywords = []
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ToolCallError(f"parameter name {name!r} is not a Python identifier")
        keywords.append(ast.keyword(arg=name, value=_to_ast(value)))
    return ast.unparse(ast.Call(func=ast.Name(id=func_name, ctx=ast.Load()), args=[], keywords=keywords))


def _to_ast(value: Any) -> ast.expr:
    if value is None or isinstance(value, (str, bool, int, float)):
        return ast.Constant(value)
    if isinstance(value, (list, tuple)):
        return ast.List(elts=[_to_ast(v) for v in value], ctx=ast.Load())
    if isinstance(value, dict):
        return ast.Dict(keys=[_to_ast(k) for k in value], values=[_to_ast(v) for v in value.values()])
    raise ToolCallError(f"parameter value {value!r} is not a JSON literal")


def fenced_tool_call(parameters: dict[str, Any]) -> str:
    """The assistant content of a tool call: the call inside a ```python fence."""
    return f"{FENCE_OPEN}\n{format_tool_call(parameters)}\n```"


def arguments_json(parameters: dict[str, Any]) -> str:
    """OpenAI-style ``arguments`` string for parsed parameters."""
    return json.dumps(parameters, ensure_ascii=False)
