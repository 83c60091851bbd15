"""A calculator for expressions written by a model: parsed, checked, evaluated — never ``eval``-ed.

The model's text is untrusted. ``safe_eval`` parses it with ``ast.parse(mode="eval")`` and walks the tree itself,
allowing only numbers, ``+ - * / ** % //``, unary signs, parentheses, the constants ``pi``/``e`` and a short list of
math functions. Everything else (names such as ``__import__``, attribute access, subscripts, strings, lambdas,
comprehensions, keyword arguments) is refused with :class:`UnsafeExpression` before anything is computed, and
sizes are bounded (text length, tree size, integer digits, exponents), so ``9**9**9**9`` is refused instead of
freezing the machine.

``SafeLLMMathChain`` is LangChain's classic ``LLMMathChain`` (which hands the text to ``numexpr``) with this check
in front of numexpr, so the same refusals hold for the classic chain.
"""
from __future__ import annotations

import ast
import math
import re

MAX_CHARS = 200          # 一行表达式足够长了
MAX_NODES = 120          # 语法树节点上限
MAX_INT_BITS = 4096      # 整数结果最多 ~1233 位十进制
MAX_EXPONENT = 10_000    # 幂的指数上限（整数幂另受 MAX_INT_BITS 约束）
MAX_FACTORIAL = 170

FUNCTIONS = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10, "log2": math.log2,
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil, "factorial": math.factorial,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
           ast.FloorDiv: "//"}
# 模型常写的记号：× ÷ ^ 和全角括号
_NORMALISE = str.maketrans({"×": "*", "÷": "/", "（": "(", "）": ")", "，": ",", "−": "-"})


class UnsafeExpression(ValueError):
    """The expression was refused (not executed); the message says why."""


def normalise(text: str) -> str:
    """Model-style notation to Python operators (``3 × 4^2`` -> ``3 * 4**2``)."""
    return text.strip().strip("`").strip().translate(_NORMALISE).replace("^", "**")


def _describe(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:60]
    except Exception:  # noqa: BLE001 - only used for the message
        return type(node).__name__


def check_expression(text: str) -> ast.Expression:
    """Parse ``text`` and check every node; returns the tree or raises :class:`UnsafeExpression`."""
    if not isinstance(text, str):
        raise UnsafeExpression(f"refused: expected text, got {type(text).__name__}")
    source = normalise(text)
    if not source:
        raise UnsafeExpression("refused: the expression is empty")
    if len(source) > MAX_CHARS:
        raise UnsafeExpression(f"refused: expression is {len(source)} characters long (limit {MAX_CHARS})")
    if "__" in source:
        raise UnsafeExpression("refused: double underscores (dunder names) are never allowed")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise UnsafeExpression(f"refused: not a valid expression ({err.msg})") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise UnsafeExpression(f"refused: expression too large ({len(nodes)} syntax nodes, limit {MAX_NODES})")
    for node in nodes:
        if isinstance(node, (ast.Expression, ast.operator, ast.unaryop, ast.Load)):
            continue
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise UnsafeExpression(f"refused: only numbers are allowed, not {node.value!r:.40}")
            if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
                raise UnsafeExpression("refused: a number in the expression is too large")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise UnsafeExpression(f"refused: operator {type(node.op).__name__} is not allowed "
                                       "(only + - * / ** % //)")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.UAdd, ast.USub)):
                raise UnsafeExpression(f"refused: operator {type(node.op).__name__} is not allowed")
        elif isinstance(node, ast.Name):
            if node.id not in CONSTANTS and node.id not in FUNCTIONS:
                raise UnsafeExpression(f"refused: unknown name {node.id!r} (allowed: numbers, pi, e and "
                                       f"{', '.join(sorted(FUNCTIONS))})")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                raise UnsafeExpression(f"refused: call of {_describe(node.func)!r} is not allowed (only "
                                       f"{', '.join(sorted(FUNCTIONS))})")
            if node.keywords or len(node.args) > 2:
                raise UnsafeExpression(f"refused: {node.func.id}() takes at most two plain arguments")
        elif isinstance(node, ast.Attribute):
            raise UnsafeExpression(f"refused: attribute access {_describe(node)!r} is not allowed")
        else:
            raise UnsafeExpression(f"refused: {type(node).__name__} ({_describe(node)!r}) is not allowed in a "
                                   "calculation")
    return tree


def _check_size(value):
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise UnsafeExpression(f"refused: intermediate result has more than {MAX_INT_BITS} bits")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise UnsafeExpression("refused: the result overflows a float or is not a number")
    return value


def _pow(base, exponent):
    if isinstance(exponent, (int, float)) and abs(exponent) > MAX_EXPONENT:
        raise UnsafeExpression(f"refused: exponent {exponent:g} is larger than {MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if exponent * math.log2(abs(base)) > MAX_INT_BITS:
            raise UnsafeExpression(f"refused: {base}**{exponent} would have more than {MAX_INT_BITS} bits")
    return base ** exponent


def _eval(node: ast.AST):
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        op = type(node.op)
        if op is ast.Pow:
            return _check_size(_pow(left, right))
        if op in (ast.Div, ast.FloorDiv, ast.Mod) and right == 0:
            raise UnsafeExpression("refused: division by zero")
        if op is ast.Mult and isinstance(left, int) and isinstance(right, int) \
                and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise UnsafeExpression(f"refused: product would have more than {MAX_INT_BITS} bits")
        result = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right, ast.Mult: lambda: left * right,
                  ast.Div: lambda: left / right, ast.Mod: lambda: left % right,
                  ast.FloorDiv: lambda: left // right}[op]()
        return _check_size(result)
    if isinstance(node, ast.Call):
        args = [_eval(a) for a in node.args]
        name = node.func.id
        if name == "factorial":
            if len(args) != 1 or not float(args[0]).is_integer() or not 0 <= args[0] <= MAX_FACTORIAL:
                raise UnsafeExpression(f"refused: factorial() takes one whole number 0..{MAX_FACTORIAL}")
            args = [int(args[0])]
        return _check_size(FUNCTIONS[name](*args))
    raise UnsafeExpression(f"refused: {type(node).__name__} is not allowed")  # check_expression stops this first


def safe_eval(text: str):
    """The value of a checked arithmetic expression (int or float); :class:`UnsafeExpression` otherwise."""
    tree = check_expression(text)
    try:
        return _eval(tree)
    except UnsafeExpression:
        raise
    except OverflowError:
        raise UnsafeExpression("refused: the result overflows a float") from None
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise UnsafeExpression(f"refused: math error ({err})") from None


def format_number(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# ---------------------------------------------------------------- reading the model's answer
_TEXT_BLOCK = re.compile(r"```text(.*?)```", re.DOTALL)


def extract_expression(llm_output: str) -> tuple[str | None, str | None]:
    """``(expression, None)`` from a ```text block, ``(None, answer)`` when the model answered directly, or
    ``(None, None)`` when the output has neither (same reading as ``LLMMathChain``)."""
    text = llm_output.strip()
    match = _TEXT_BLOCK.search(text)
    if match:
        return match.group(1).strip(), None
    if "Answer:" in text:
        return None, text.split("Answer:")[-1].strip()
    return None, None


def solve_from_llm_output(llm_output: str) -> dict:
    """What the LCEL math chain returns for one model output: the expression, the answer or the refusal."""
    expression, direct = extract_expression(llm_output)
    if expression is None:
        if direct is not None:
            return {"expression": None, "answer": direct, "error": None}
        return {"expression": None, "answer": None,
                "error": "the model wrote no ```text block and no 'Answer:' line"}
    try:
        return {"expression": expression, "answer": format_number(safe_eval(expression)), "error": None}
    except UnsafeExpression as err:
        return {"expression": expression, "answer": None, "error": str(err)}


NUMEXPR_FUNCTIONS = {"sqrt", "exp", "log", "log10", "sin", "cos", "tan", "abs"}  # asin... are arcsin... there


def safe_llm_math_chain_class():
    """``LLMMathChain`` whose numexpr step first goes through :func:`safe_eval` (imported lazily).

    The check must come *before* numexpr: numexpr compiles its input with Python's own ``eval`` (constant folding
    included), so ``9**9**9**9`` handed to ``numexpr.evaluate`` never returns. Here the text is parsed and evaluated
    with bounds first; only a text that passed goes on to numexpr, as in the book's chain (or, when it uses a
    function numexpr does not have, such as ``factorial``, the checked value is the answer)."""
    from langchain_classic.chains import LLMMathChain

    class SafeLLMMathChain(LLMMathChain):
        """LLMMathChain + the AST check: a refused expression never reaches numexpr."""

        def _evaluate_expression(self, expression: str) -> str:
            value = safe_eval(expression)  # raises UnsafeExpression (a ValueError) with the reason
            tree = check_expression(expression)
            calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
            if calls <= NUMEXPR_FUNCTIONS and "//" not in normalise(expression):
                return super()._evaluate_expression(normalise(expression))
            return format_number(value)

    return SafeLLMMathChain


# 演示用：模型可能写出的“表达式”，每条都必须被拒绝
HOSTILE_EXPRESSIONS = [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "9**9**9**9",
    "10**100000",
    "2**(10**8)",
    "math.sqrt(4)",
    "open('/etc/passwd').read()",
    "x + 1",
    "[1, 2, 3]",
    "lambda: 1",
    "'a' * 10",
    "sqrt(4, key=1)",
    "1 if True else 0",
    "factorial(100000)",
    "1e308 * 1e308",
    "1" + "+1" * 200,
]
