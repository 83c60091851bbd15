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

Only calls that can be written as *strict* JSON are accepted (:func:`check_json_value`): no NaN/Infinity (``1e999``),
no integer too long to print (``0x`` + thousands of digits), no lone surrogate (``'\\ud800'``), no duplicate or
non-string dict keys, no full-width look-alike names (``ｔｏｏｌ_ｃａｌｌ``, which Python would silently normalise).
:func:`format_tool_call` writes only what :func:`parse_tool_call` reads back unchanged (a property test checks it).
"""
from __future__ import annotations

import ast
import json
import keyword
import math
import unicodedata
import warnings
from typing import Any

MAX_CALL_CHARS = 100_000
MAX_DEPTH = 32
MAX_INT_BITS = 256          # |int| < 2**256 (78 digits): plenty for ids and amounts, cheap to print
FENCE_OPEN = "```python"
SOURCE_NAME = "<tool_call>"
# the parser warns about odd literals in model output ("invalid decimal literal"): noise, and one line per call
warnings.filterwarnings("ignore", category=SyntaxWarning, module=SOURCE_NAME)


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


# ============================================================================================== strict JSON values
def _check_str(s: str, what: str = "string") -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolCallError(f"{what} holds a lone surrogate (not valid Unicode text)") from None


def check_json_value(value: Any, depth: int = 0) -> None:
    """Raise ``ToolCallError`` unless ``value`` is a JSON value that ``json.dumps(allow_nan=False)`` writes and
    ``json.loads`` reads back equal: str (valid Unicode), bool, None, int (< 2**256), finite float, list/tuple,
    dict with string keys; nested at most ``MAX_DEPTH`` levels."""
    if depth > MAX_DEPTH:
        raise ToolCallError(f"arguments nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_str(value)
    elif isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise ToolCallError(f"integer larger than 2**{MAX_INT_BITS}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ToolCallError(f"{value} is not a JSON number")
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_json_value(v, depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ToolCallError(f"object keys must be strings, not {type(k).__name__}")
            _check_str(k, "object key")
            check_json_value(v, depth + 1)
    else:
        raise ToolCallError(f"value of type {type(value).__name__} is not a JSON literal")


def check_parameter_name(name: Any) -> None:
    """A name that Python reads back as written: an identifier, not a keyword, already in NFKC form."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ToolCallError(f"parameter name {name!r} is not a Python identifier")
    if unicodedata.normalize("NFKC", name) != name:
        raise ToolCallError(f"parameter name {name!r} changes under Unicode normalisation (full-width letters?)")


# ============================================================================================== parsing
class _Source:
    """Exact source text of a node (ast positions are UTF-8 byte offsets), to catch NFKC-normalised names."""

    def __init__(self, code: str):
        self.ascii = code.isascii()
        self.lines = None if self.ascii else code.encode("utf-8").split(b"\n")

    def written_as(self, node: ast.AST, name: str) -> bool:
        if self.ascii:
            return True
        if node.lineno != node.end_lineno:
            return False
        line = self.lines[node.lineno - 1]
        return line[node.col_offset:node.end_col_offset].decode("utf-8", "replace").startswith(name)


def parse_tool_call(content: str, allowed_names: tuple[str, ...] = ("tool_call",)) -> dict[str, Any]:
    """Parameters of a ``tool_call(k=v, ...)`` (fenced or not) as a dict, without executing anything."""
    if not isinstance(content, str):
        raise ToolCallError("tool call content must be text")
    if len(content) > MAX_CALL_CHARS:
        raise ToolCallError(f"tool call longer than {MAX_CALL_CHARS} characters")
    code = strip_code_fence(content)
    if not code:
        raise ToolCallError("empty tool call")
    _check_str(code, "tool call text")
    try:
        tree = ast.parse(code, SOURCE_NAME, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ToolCallError(f"not a Python call expression: {exc.__class__.__name__}") from None
    src = _Source(code)
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ToolCallError("expected a single call like tool_call(city_name='北京')")
    if call.func.id not in allowed_names or not src.written_as(call.func, call.func.id):
        raise ToolCallError(f"unexpected function name; expected {' or '.join(allowed_names)}")
    if call.args:
        raise ToolCallError("tool_call takes keyword arguments only")
    params: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ToolCallError("**kwargs is not allowed in a tool call")
        if not src.written_as(kw, kw.arg):
            raise ToolCallError(f"argument name {kw.arg!r} is written with look-alike (full-width) characters")
        if kw.arg in params:
            raise ToolCallError(f"argument {kw.arg!r} given twice")
        params[kw.arg] = _literal(kw.value, 0, src)
    check_json_value(params)
    return params


_JSON_NAMES = {"true": True, "false": False, "null": None}


def _literal(node: ast.AST, depth: int, src: _Source) -> Any:
    if depth > MAX_DEPTH:
        raise ToolCallError(f"arguments nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise ToolCallError(f"unsupported constant of type {type(node.value).__name__}")
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES and src.written_as(node, node.id):
        return _JSON_NAMES[node.id]    # models trained on JSON sometimes write true/null
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, depth + 1, src)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ToolCallError("a sign applies to numbers only")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, depth + 1, src) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise ToolCallError("** unpacking is not allowed")
            key = _literal(k, depth + 1, src)
            if not isinstance(key, str):
                raise ToolCallError("dict keys must be strings (JSON object keys)")
            if key in out:
                raise ToolCallError(f"dict key {key[:40]!r} given twice")
            out[key] = _literal(v, depth + 1, src)
        return out
    raise ToolCallError(f"only literal values are allowed in a tool call, found {type(node).__name__}")


# ============================================================================================== writing
def format_tool_call(parameters: dict[str, Any], func_name: str = "tool_call") -> str:
    """``tool_call(k=v, ...)`` text exactly as the official fine-tune code writes it (``ast.unparse``).

    Writes only what :func:`parse_tool_call` reads back equal (tuples come back as lists): names must be Python
    identifiers (not keywords such as ``class``, no full-width letters), values strict JSON literals
    (:func:`check_json_value`), the text at most ``MAX_CALL_CHARS`` long — anything else is a ``ToolCallError``."""
    if not isinstance(parameters, dict):
        raise ToolCallError("tool call parameters must be an object")
    check_parameter_name(func_name)
    keywords = []
    for name in parameters:
        check_parameter_name(name)
    check_json_value(parameters)
    for name, value in parameters.items():
        keywords.append(ast.keyword(arg=name, value=_to_ast(value)))
    text = ast.unparse(ast.Call(func=ast.Name(id=func_name, ctx=ast.Load()), args=[], keywords=keywords))
    if len(text) + len(FENCE_OPEN) + 5 > MAX_CALL_CHARS:
        raise ToolCallError(f"tool call longer than {MAX_CALL_CHARS} characters")
    return text


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
    """OpenAI-style ``arguments`` string (strict JSON) for parsed parameters."""
    return json.dumps(parameters, ensure_ascii=False, allow_nan=False)
