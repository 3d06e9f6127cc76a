"""Restricted evaluation of gateway conditions, scripts, timer expressions and decision cells.

Diagrams are data edited by process owners (or brought from other modelers); their
expressions must not reach Python's internals nor hold a worker. Three layers:

1. A static check of the syntax tree (`_lint`): bounded length (500 characters for an
   expression, 5,000 for a script); no `while`, `def`, `lambda`, `class`, `import`, `try`,
   `with`, `global`, `yield`; `**` only with a constant exponent of at most 100; no names
   that reach the interpreter (`getattr`, `eval`, `type`, `vars` ...); no `str.format`,
   padding methods or format specs wider than 1,000.
2. RestrictedPython's compiler (no dunder names, guarded attribute/item access and
   iteration) with `*`, `**`, `<<`, `+` and `%` routed through a guard that refuses results
   above 1,000,000 items or 10,000-bit integers; `range` is limited to 999 items; the
   builtins are a whitelist without `pow`, `setattr`, `__build_class__` or BaseException.
3. A budget while it runs: 200,000 traced lines and 1 second of wall time per evaluation,
   enforced by a trace function (a line event per loop iteration, comprehensions included).

SpiffWorkflow's TaskDataEnvironment alone is no sandbox (ENGINE-NOTES trap 1).
"""
import ast
import re
import sys
import time
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence,
                                     guarded_unpack_sequence, safer_getattr)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

MAX_EXPRESSION = 500
MAX_SCRIPT = 5000
MAX_EXPONENT = 100
MAX_ITEMS = 1_000_000      # characters of a string, items of a list made by * or +
MAX_INT_BITS = 10_000      # about 3,000 decimal digits
MAX_FORMAT_WIDTH = 1000
MAX_STEPS = 200_000        # traced line events per evaluation
MAX_SECONDS = 1.0          # wall time per evaluation

# names that reach the interpreter or its objects; refused at validation, absent at run time
FORBIDDEN_NAMES = {"getattr", "setattr", "delattr", "hasattr", "eval", "exec", "compile", "open", "input",
                   "globals", "locals", "vars", "dir", "type", "object", "super", "breakpoint", "help",
                   "memoryview", "bytearray", "classmethod", "staticmethod", "property", "pow", "format",
                   "print", "exit", "quit", "id", "iter", "next", "aiter", "anext"}
# modules that scripts from other platforms expect to find; none is available here
MODULE_NAMES = {"os", "sys", "time", "datetime", "json", "math", "random", "re", "subprocess", "shutil",
                "socket", "requests", "builtins", "importlib", "pathlib", "io", "pickle", "decimal"}
# methods that allocate on request or read object internals through a format string
FORBIDDEN_ATTRIBUTES = {"format", "format_map", "ljust", "rjust", "center", "zfill", "expandtabs",
                        "mro", "gi_frame", "gi_code", "gi_yieldfrom", "f_globals", "f_locals", "f_back", "f_builtins",
                        "cr_frame", "cr_code", "ag_frame", "ag_code",
                        "tb_frame", "co_code"}
_STATEMENTS = {
    ast.While: "不允许使用 while 循环（可用 for … in range(n)，n 小于 1000）",
    ast.FunctionDef: "不允许定义函数（def）", ast.AsyncFunctionDef: "不允许定义函数（def）",
    ast.Lambda: "不允许使用 lambda", ast.ClassDef: "不允许定义类（class）",
    ast.Import: "不允许 import", ast.ImportFrom: "不允许 import",
    ast.Global: "不允许 global", ast.Nonlocal: "不允许 nonlocal",
    ast.Try: "不允许 try/except", ast.With: "不允许 with", ast.AsyncWith: "不允许 with",
    ast.AsyncFor: "不允许 async for", ast.Yield: "不允许 yield", ast.YieldFrom: "不允许 yield",
    ast.Await: "不允许 await",
}
if hasattr(ast, "TryStar"):
    _STATEMENTS[ast.TryStar] = "不允许 try/except"


class UnsafeExpression(ValueError):
    pass


class LimitExceeded(BaseException):
    """Raised inside a running expression when it exceeds its budget. A BaseException so that
    no handler in the expression could swallow it (and `try` is refused anyway)."""


def _lint(tree, is_script):
    """Static refusals, in Chinese, before RestrictedPython sees the tree."""
    for node in ast.walk(tree):
        for kind, why in _STATEMENTS.items():
            if isinstance(node, kind):
                if kind in (ast.Import, ast.ImportFrom) and is_script:
                    raise UnsafeExpression("脚本中不允许 import")
                raise UnsafeExpression(why)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, (ast.USub, ast.UAdd)):
                exponent = exponent.operand
            if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, (int, float))
                    and not isinstance(exponent.value, bool)):
                raise UnsafeExpression("乘方（**）的指数必须是常数")
            if abs(exponent.value) > MAX_EXPONENT:
                raise UnsafeExpression(f"乘方（**）的指数不能超过 {MAX_EXPONENT}")
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Pow):
            raise UnsafeExpression("不允许 **=")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise UnsafeExpression(f"不允许使用 {node.id}")
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in MODULE_NAMES):
            raise UnsafeExpression(f"没有模块 {node.value.id} 可用（表达式只能使用案件数据和基本函数）")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            raise UnsafeExpression(f"不允许使用 .{node.attr}")
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = "".join(str(v.value) for v in ast.walk(node.format_spec) if isinstance(v, ast.Constant))
            if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec)) or any(
                    not isinstance(v, ast.Constant) for v in node.format_spec.values):
                raise UnsafeExpression(f"格式宽度不能超过 {MAX_FORMAT_WIDTH}，且须为常数")


def _size(value):
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


def _check_result_size(op, a, b):
    """Refuse an operation whose result would be huge, before computing it."""
    if op == "*":
        for seq, n in ((a, b), (b, a)):
            if _size(seq) is not None and isinstance(n, int) and _size(seq) * max(n, 0) > MAX_ITEMS:
                raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
        if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise UnsafeExpression("整数过大")
    elif op == "**":
        if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS:
            raise UnsafeExpression("乘方结果过大")
    elif op == "<<":
        if isinstance(b, int) and (b > MAX_INT_BITS or (isinstance(a, int) and a.bit_length() + b > MAX_INT_BITS)):
            raise UnsafeExpression("移位结果过大")
    elif op == "+":
        if _size(a) is not None and _size(b) is not None and _size(a) + _size(b) > MAX_ITEMS:
            raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
    elif op == "%":
        if isinstance(a, (str, bytes)):
            text = a if isinstance(a, str) else a.decode("latin-1")
            for width in re.findall(r"%[-#0 +]*(\*|\d+)(?:\.(\*|\d+))?", text):
                if any(w == "*" or (w and int(w) > MAX_FORMAT_WIDTH) for w in width):
                    raise UnsafeExpression(f"格式宽度不能超过 {MAX_FORMAT_WIDTH}")


_OPS = {"*": lambda a, b: a * b, "**": lambda a, b: a ** b, "<<": lambda a, b: a << b,
        "+": lambda a, b: a + b, "%": lambda a, b: a % b, "-": lambda a, b: a - b}
_GUARDED = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}


def _binop(op, a, b):
    _check_result_size(op, a, b)
    return _OPS[op](a, b)


def _inplacevar(op, x, y):
    if op not in ("+=", "-=", "*="):
        raise UnsafeExpression(f"不支持的运算符 {op}")
    return _binop(op[0], x, y)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus arithmetic that can grow without bound routed through
    `_binop_` (a generated name: RestrictedPython refuses such names in the source itself)."""

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        op = _GUARDED.get(type(node.op))
        if op is None:
            return node
        name, constant = ast.copy_location(ast.Name("_binop_", ast.Load()), node), ast.copy_location(ast.Constant(op), node)
        return ast.copy_location(ast.Call(func=name, args=[constant, node.left, node.right], keywords=[]), node)


def _safe_getattr(obj, name, default=None):
    if name in FORBIDDEN_ATTRIBUTES:
        raise UnsafeExpression(f"不允许使用 .{name}")
    return safer_getattr(obj, name, default)


def _builtins():
    b = dict(safe_builtins)
    b.update(limited_builtins)  # range limited to 999 items
    for name in ("sum", "min", "max", "any", "all", "sorted", "enumerate", "dict", "list", "set"):
        b[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in list(b):
        if name in FORBIDDEN_NAMES or name.startswith("_"):
            del b[name]
    for name in ("BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        b.pop(name, None)
    return b


SAFE_GLOBALS = {
    "__builtins__": _builtins(),
    "_getattr_": _safe_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_binop_": _binop,
}
_FILENAME = "<bianzhi-expression>"


def _compile(text, is_script):
    limit = MAX_SCRIPT if is_script else MAX_EXPRESSION
    if len(text) > limit:
        raise UnsafeExpression(f"{'脚本' if is_script else '表达式'}过长（{len(text)} 字符，上限 {limit}）")
    try:
        tree = ast.parse(text if is_script else text.strip(), _FILENAME, "exec" if is_script else "eval")
    except SyntaxError as exc:
        raise UnsafeExpression(f"语法错误：第 {exc.lineno} 行") from None
    except (ValueError, RecursionError, MemoryError):
        raise UnsafeExpression("无法解析") from None
    _lint(tree, is_script)
    compiler = compile_restricted_exec if is_script else compile_restricted_eval
    result = compiler(tree, _FILENAME, policy=_Policy)
    if result.errors or result.code is None:
        raise UnsafeExpression("；".join(dict.fromkeys(_chinese(e) for e in result.errors)) or "无法编译")
    return result.code


_RP_MESSAGES = [
    (re.compile(r'"([^"]+)" is an invalid variable name because it starts with "_"'), "不允许使用以下划线开头的名称 {0}"),
    (re.compile(r'"([^"]+)" is an invalid attribute name because it starts with "_"'), "不允许访问以下划线开头的属性 {0}"),
    (re.compile(r'"([^"]+)" is a reserved name'), "不允许使用保留名称 {0}"),
    (re.compile(r"(\w+) statements are not allowed"), "不允许使用 {0} 语句"),
]


def _chinese(error):
    """RestrictedPython's compile errors, in the users' language."""
    for pattern, text in _RP_MESSAGES:
        match = pattern.search(error)
        if match:
            return text.format(*match.groups())
    return f"不被允许的写法（{error}）"


@lru_cache(maxsize=4096)
def compile_expression(expression):
    return _compile(expression, False)


@lru_cache(maxsize=1024)
def compile_script(script):
    return _compile(script, True)


def check(text, is_script=False):
    """Return None when the expression or script compiles under the restrictions, else why not."""
    try:
        (compile_script if is_script else compile_expression)(text)
    except UnsafeExpression as exc:
        return str(exc)
    return None


def _run(fn, code, scope):
    """Run restricted code under the step and time budget; the caller's tracer is restored."""
    budget = {"steps": 0, "deadline": time.monotonic() + MAX_SECONDS}

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != _FILENAME:
            return None
        budget["steps"] += 1
        if budget["steps"] > MAX_STEPS or time.monotonic() > budget["deadline"]:
            raise LimitExceeded
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return fn(code, scope)
    except LimitExceeded:
        raise UnsafeExpression(f"运行超出限制（{MAX_STEPS} 步或 {MAX_SECONDS:g} 秒）") from None
    except RecursionError:
        raise UnsafeExpression("嵌套过深") from None
    except MemoryError:
        raise UnsafeExpression("内存不足") from None
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self):
        super().__init__(environment_globals={})

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        scope = dict(SAFE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        return _run(eval, code, scope)  # restricted bytecode, guarded globals

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        scope = dict(SAFE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        _run(exec, code, scope)  # restricted bytecode, guarded globals
        for key, value in scope.items():
            if key.startswith("_") or key in SAFE_GLOBALS or callable(value):
                continue
            context[key] = value
        return True


def script_engine():
    return PythonScriptEngine(environment=RestrictedEnvironment())
