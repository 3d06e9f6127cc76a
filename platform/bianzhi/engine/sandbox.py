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
   A trace function only runs between lines, so no single operation may do unbounded work in
   C: `seq * n` counts what the items hold (`['a' * 10**6] * 200000` is 2·10¹¹ characters,
   not 200,000 items); comparisons (`in`, `==`, `<` …), `.count/.index/.remove/.sort`,
   `sorted/min/max`, `.join`, `.replace`, `.strip(chars)`, `.startswith(tuple)`, `str/repr`,
   `%` and f-string fields are refused when the data they would walk or build is above
   1,000,000 characters/items (20,000,000 for a search); `.extend`, slice assignment and
   `sum` of lists are held to 1,000,000 items; only codecs written in C; `round` to at most
   1,000 digits; no `*` unpacking into a display; at most 20 f-string fields; the middle of
   a chained comparison free of side effects (it is evaluated twice); one statement per line
   (the budget below counts lines). `str`, `list`, `tuple`, `set`, `dict` are checked
   stand-ins that still answer isinstance/issubclass and `str.upper`.
3. A budget while it runs: 200,000 traced lines, 1 second of wall time, 100,000,000 items and
   characters touched by the guarded operations, and 100 MB of growth of the process's
   resident memory per evaluation. Lines and time are enforced by a trace function (a line
   event per loop iteration, comprehensions included); memory is read from /proc at every
   line from the second on, before every 1,000,000 items/characters a guarded operation
   allocates, and at the end. Only the evaluation is refused: nothing else in the process
   (another thread) is limited.

SpiffWorkflow's TaskDataEnvironment alone is no sandbox (ENGINE-NOTES trap 1).

This module holds layer 1, the compiler of layer 2 and the environment SpiffWorkflow calls;
guards.py the run-time guards of layer 2; budget.py layer 3.
"""
import ast
import copy
import re
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from .budget import FILENAME, MAX_SECONDS, UnsafeExpression, run  # noqa: F401  (MAX_SECONDS: read here by callers)
from .guards import FORBIDDEN_ATTRIBUTES, FORBIDDEN_NAMES, MAX_FORMAT_WIDTH, SAFE_GLOBALS

MAX_EXPRESSION = 500
MAX_SCRIPT = 5000
MAX_EXPONENT = 100
MAX_FSTRING_FIELDS = 20
# modules that scripts from other platforms expect to find; none is available here
MODULE_NAMES = {"os", "sys", "time", "datetime", "json", "math", "random", "re", "subprocess", "shutil",
                "socket", "requests", "builtins", "importlib", "pathlib", "io", "pickle", "decimal"}
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


_COMPOUND = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
             ast.AsyncFor, ast.AsyncWith)


def _lint(tree, is_script):
    """Static refusals, in Chinese, before RestrictedPython sees the tree."""
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt) and not isinstance(n, _COMPOUND)]
    if len(lines) != len(set(lines)):  # the budget is counted per line: one statement each
        line = next(n for n in lines if lines.count(n) > 1)
        raise UnsafeExpression(f"第 {line} 行有多条语句；每行只能写一条（不要用分号，冒号后的语句另起一行）")
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
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and any(isinstance(e, ast.Starred) for e in node.elts):
            raise UnsafeExpression("不允许在列表、元组或集合中用 * 展开（可用 + 或 .extend）")
        if isinstance(node, ast.JoinedStr) and sum(isinstance(v, ast.FormattedValue)
                                                   for v in node.values) > MAX_FSTRING_FIELDS:
            raise UnsafeExpression(f"f 字符串中的 {{…}} 不能超过 {MAX_FSTRING_FIELDS} 个")
        if isinstance(node, ast.Compare) and len(node.ops) > 1 and not all(map(_plain, node.comparators[:-1])):
            raise UnsafeExpression("连续比较（如 a < b < c）的中间项须为变量、常数、属性、下标、算术或 len() 等")
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = "".join(str(v.value) for v in ast.walk(node.format_spec) if isinstance(v, ast.Constant))
            if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec)) or any(
                    not isinstance(v, ast.Constant) for v in node.format_spec.values):
                raise UnsafeExpression(f"格式宽度不能超过 {MAX_FORMAT_WIDTH}，且须为常数")


_PURE_FUNCTIONS = {"len", "abs", "int", "float", "round", "min", "max", "sum", "str", "bool"}
_PURE_NODES = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Load, ast.UnaryOp, ast.USub,
               ast.UAdd, ast.Not, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


def _plain(node):
    """An expression evaluated twice to no effect: names, constants, their attributes and items,
    arithmetic on them and calls of len, abs, int … (the middle of a < b < c is evaluated twice)."""
    return all(isinstance(n, _PURE_NODES) or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                                              and n.func.id in _PURE_FUNCTIONS and not n.keywords)
               for n in ast.walk(node))
_COMPARE_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                ast.In: "in", ast.NotIn: "not in"}
_GUARDED = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}


def _call(name, args, node):
    func = ast.copy_location(ast.Name(name, ast.Load()), node)
    return ast.copy_location(ast.Call(func=func, args=args, keywords=[]), node)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus what can grow or run without bound in one C call routed
    through guards: arithmetic through `_binop_`, comparisons through `_compare_`, f-string
    fields through `_fvalue_` (generated names: RestrictedPython refuses such names in the
    source itself)."""

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        op = _GUARDED.get(type(node.op))
        if op is None:
            return node
        return _call("_binop_", [ast.copy_location(ast.Constant(op), node), node.left, node.right], node)

    def visit_Compare(self, node):
        node = self.node_contents_visit(node)
        parts, left = [], node.left
        for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
            name = _COMPARE_OPS.get(type(op))
            if i:  # a < b < c: b again (_lint let only plain names, constants, attributes, items through)
                left = copy.deepcopy(left)
            parts.append(ast.copy_location(ast.Compare(left, [op], [right]), node) if name is None else
                         _call("_compare_", [ast.copy_location(ast.Constant(name), node), left, right], node))
            left = right
        if len(parts) == 1:
            return parts[0]
        return ast.copy_location(ast.BoolOp(ast.And(), parts), node)

    def visit_FormattedValue(self, node):
        node = self.node_contents_visit(node)
        node.value = _call("_fvalue_", [node.value], node)
        return node


def _compile(text, is_script):
    limit = MAX_SCRIPT if is_script else MAX_EXPRESSION
    if len(text) > limit:
        raise UnsafeExpression(f"{'脚本' if is_script else '表达式'}过长（{len(text)} 字符，上限 {limit}）")
    try:
        tree = ast.parse(text if is_script else text.strip(), FILENAME, "exec" if is_script else "eval")
    except SyntaxError as exc:
        raise UnsafeExpression(f"语法错误：第 {exc.lineno} 行") from None
    except (ValueError, RecursionError, MemoryError):
        raise UnsafeExpression("无法解析") from None
    _lint(tree, is_script)
    compiler = compile_restricted_exec if is_script else compile_restricted_eval
    result = compiler(tree, FILENAME, policy=_Policy)
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


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self):
        super().__init__(environment_globals={})

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        scope = dict(SAFE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        return run(eval, code, scope)  # restricted bytecode, guarded globals

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        scope = dict(SAFE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        run(exec, code, scope)  # restricted bytecode, guarded globals
        for key, value in scope.items():
            if key.startswith("_") or key in SAFE_GLOBALS or callable(value):
                continue
            context[key] = value
        return True


def script_engine():
    return PythonScriptEngine(environment=RestrictedEnvironment())