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
"""
import ast
import copy
import operator
import os
import re
import sys
import threading
import time
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getiter
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
MAX_WORK = 20_000_000      # items and characters one search or comparison may walk (in, ==, .count …)
MAX_TOTAL_WORK = 100_000_000  # items and characters all guarded operations of one evaluation may touch
MAX_ROUND_DIGITS = 1000
CODECS = {"utf-8", "utf8", "utf_8", "utf-16", "utf_16", "utf16", "utf-32", "utf_32", "ascii", "latin-1", "latin1",
          "latin_1", "iso-8859-1", "iso8859-1", "gbk", "gb2312", "gb18030", "big5"}
MAX_MEMORY = 100 * 1024 * 1024  # growth of the process's resident memory per evaluation
MAX_FSTRING_FIELDS = 20
MEMORY_CHECK_EVERY = 1     # line events between two readings of the resident memory
MEMORY_CHECK_WORK = 1_000_000  # items and characters allocated by guarded operations between two readings

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
                        "translate", "maketrans",
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


class WorkExceeded(BaseException):
    """Raised by a guard when one evaluation's guarded operations have done too much work."""


_current = threading.local()  # the budget of the evaluation running in this thread


def _spend(work, allocates=False):
    """Count `work` items/characters against the running evaluation's budget; an operation that
    allocates that much also has the process's memory read every MEMORY_CHECK_WORK of it
    (before it allocates: the first reading is the baseline)."""
    budget = getattr(_current, "budget", None)
    if budget is None:
        return
    budget["work"] += work
    if budget["work"] > MAX_TOTAL_WORK:
        raise WorkExceeded
    if allocates:
        budget["unchecked"] += work
        if budget["unchecked"] >= MEMORY_CHECK_WORK:
            budget["unchecked"] = 0
            _check_memory(budget)


def _check_memory(budget):
    now = _resident()
    if now is None:
        return
    if budget["memory"] is None:
        budget["memory"] = now + MAX_MEMORY
    elif now > budget["memory"]:
        raise MemoryExceeded


_PURE_FUNCTIONS = {"len", "abs", "int", "float", "round", "min", "max", "sum", "str", "bool"}
_PURE_NODES = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Load, ast.UnaryOp, ast.USub,
               ast.UAdd, ast.Not, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


def _plain(node):
    """An expression evaluated twice to no effect: names, constants, their attributes and items,
    arithmetic on them and calls of len, abs, int … (the middle of a < b < c is evaluated twice)."""
    return all(isinstance(n, _PURE_NODES) or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                                              and n.func.id in _PURE_FUNCTIONS and not n.keywords)
               for n in ast.walk(node))


def _size(value):
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_CONTAINERS = (list, tuple, set, frozenset, dict) + _VIEWS
_CONTAINER_TYPES = frozenset(_CONTAINERS)


def _weight(value, limit=MAX_ITEMS, depth=0):
    """The characters and items reachable from `value`, an item held twice counted twice (what
    a comparison walks or a repr writes); stops once past `limit`. Deeper than any case data
    (or a list holding itself) counts as past it."""
    if isinstance(value, (str, bytes)):
        return len(value) or 1
    if not isinstance(value, _CONTAINERS):
        return 1
    if depth > 20 or len(value) > limit:
        return limit + 1
    total = 0
    for item in (value.items() if isinstance(value, dict) else value):
        kind = type(item)
        if kind is str or kind is bytes:
            total += len(item) or 1
        elif kind in _CONTAINER_TYPES or isinstance(item, _CONTAINERS):
            total += _weight(item, limit - total, depth + 1)
        else:
            total += 1
        if total > limit:
            break
    return total or 1


def _too_big(what, limit=MAX_ITEMS):
    return UnsafeExpression(f"{what}涉及的数据过大（超过 {limit} 项或字符）")


def _check_search(needle, haystack, what="查找"):
    """`needle in haystack` (and .count/.index/.remove) compares the needle with every item:
    refuse when that would walk more than MAX_WORK characters and items."""
    if isinstance(haystack, (str, bytes, dict, set, frozenset, range, _VIEWS[0])) or not hasattr(haystack, "__len__"):
        return  # a substring search is linear; a hashed lookup hashes the needle once
    needle_weight = _weight(needle, MAX_WORK)
    if len(haystack) * (1 + needle_weight) <= MAX_WORK:
        _spend(len(haystack) * (1 + needle_weight))
        return
    work = 0
    for item in haystack:
        work += 1 + min(needle_weight, _weight(item, needle_weight))
        if work > MAX_WORK:
            raise _too_big(what, MAX_WORK)
    _spend(work)


def _check_compare(a, b):
    """Comparing two containers walks both, item by item."""
    if isinstance(a, _CONTAINERS) and isinstance(b, _CONTAINERS) and a is not b:
        work = min(_weight(a, MAX_WORK), _weight(b, MAX_WORK))
        if work > MAX_WORK:
            raise _too_big("比较", MAX_WORK)
        _spend(work)


_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}
_COMPARE_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                ast.In: "in", ast.NotIn: "not in"}


def _compare(op, a, b):
    if op in ("in", "not in"):
        _check_search(a, b)
    else:
        _check_compare(a, b)
    return _COMPARE[op](a, b)


def _check_result_size(op, a, b):
    """Refuse an operation whose result would be huge, before computing it."""
    if op == "*":
        for seq, n in ((a, b), (b, a)):
            if _size(seq) is not None and isinstance(n, int) and _size(seq) * max(n, 0) > MAX_ITEMS:
                raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
            if isinstance(seq, (list, tuple)) and seq and isinstance(n, int) and n > 1:
                # the copies share their items: what they hold counts n times
                if _weight(seq, MAX_ITEMS // n) * n > MAX_ITEMS:
                    raise UnsafeExpression(f"结果过大（重复后超过 {MAX_ITEMS} 项或字符）")
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
            weight = _weight(b)
            if weight > MAX_ITEMS:
                raise _too_big("格式化（%）")
            _spend(len(a) + weight, allocates=True)
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
    result = _OPS[op](a, b)
    if isinstance(result, (str, bytes, list, tuple)) and len(result) > 64:
        _spend(len(result), allocates=True)
    return result


def _inplacevar(op, x, y):
    if op not in ("+=", "-=", "*="):
        raise UnsafeExpression(f"不支持的运算符 {op}")
    return _binop(op[0], x, y)


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


def _fvalue(value, what="f 字符串"):
    if isinstance(value, _CONTAINERS):
        weight = _weight(value)
        if weight > MAX_ITEMS:
            raise _too_big(what)
        _spend(weight, allocates=True)
    elif isinstance(value, (str, bytes)) and len(value) > 64:
        _spend(len(value), allocates=True)
    return value


def _guard_method(obj, name, method):
    """Methods of strings and lists whose work or result is not bounded by their object's size."""
    if name == "join":
        def join(iterable):
            items = list(iterable)
            total = sum(len(i) if isinstance(i, (str, bytes)) else 1 for i in items) + len(obj) * max(len(items) - 1, 0)
            if total > MAX_ITEMS:
                raise _too_big("拼接（join）")
            _spend(total + len(items), allocates=True)
            return method(items)
        return join
    if name == "replace" and isinstance(obj, (str, bytes)):
        def replace(old, new, count=-1):
            if isinstance(old, type(obj)) and isinstance(new, type(obj)) and len(new) > len(old):
                found = obj.count(old) if old else len(obj) + 1
                if count >= 0:
                    found = min(found, count)
                if len(obj) + found * (len(new) - len(old)) > MAX_ITEMS:
                    raise _too_big("替换（replace）")
            _spend(2 * len(obj), allocates=True)
            return method(old, new, count)
        return replace
    if name == "extend" and isinstance(obj, list):
        def extend(iterable):
            items = iterable if isinstance(iterable, (list, tuple, str, bytes)) else list(iterable)
            if len(obj) + len(items) > MAX_ITEMS:
                raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
            _spend(len(items), allocates=True)
            return method(items)
        return extend
    if name in ("count", "index", "remove") and isinstance(obj, (list, tuple)):
        def search(value, *args):
            _check_search(value, obj)
            return method(value, *args)
        return search
    if name == "sort" and isinstance(obj, list):
        def sort(**kwargs):
            _check_sortable(obj)
            return method(**kwargs)
        return sort
    if name in ("strip", "lstrip", "rstrip") and isinstance(obj, (str, bytes)):
        def strip(chars=None):
            work = len(obj) * (len(chars) if isinstance(chars, (str, bytes)) else 1)
            if work > MAX_WORK:  # each character is looked up in `chars`
                raise _too_big("去除字符（strip）", MAX_WORK)
            _spend(work)
            return method(chars)
        return strip
    if name in ("startswith", "endswith") and isinstance(obj, (str, bytes)):
        def affix(prefix, *args):
            if isinstance(prefix, tuple):
                _check_search(obj, prefix)
            return method(prefix, *args)
        return affix
    if name in ("encode", "decode"):
        def codec(*args, **kwargs):
            _check_codec(args[0] if args else kwargs.get("encoding", "utf-8"))
            _spend(len(obj), allocates=True)
            return method(*args, **kwargs)
        return codec
    return method


def _check_codec(encoding):
    """Only the codecs written in C: a pure-Python one (punycode, idna …) runs untraced."""
    if not isinstance(encoding, str) or encoding.lower().replace(" ", "") not in CODECS:
        raise UnsafeExpression(f"不支持的编码 {str(encoding)[:40]}；可用：utf-8、gbk、gb18030、ascii 等")


_GUARDED_METHODS = {"join", "replace", "extend", "count", "index", "remove", "sort", "strip", "lstrip", "rstrip",
                    "startswith", "endswith", "encode", "decode"}
_GUARDED_TYPES = (str, bytes, list, tuple)
_METHOD_OWNERS = (str, bytes, list, tuple)


def _safe_getattr(obj, name, default=None):
    if name in FORBIDDEN_ATTRIBUTES:
        raise UnsafeExpression(f"不允许使用 .{name}")
    if isinstance(obj, _GuardedType):
        obj = obj._real
    value = safer_getattr(obj, name, default)
    if name in _GUARDED_METHODS:
        if isinstance(obj, _METHOD_OWNERS):
            return _guard_method(obj, name, value)
        if obj in _GUARDED_TYPES:  # str.join(sep, items): the same guard on the instance given
            def unbound(self, *args, **kwargs):
                if not isinstance(self, obj):
                    return value(self, *args, **kwargs)  # the type's own TypeError
                return _guard_method(self, name, getattr(self, name))(*args, **kwargs)
            return unbound
    return value


def _check_sortable(seq):
    if isinstance(seq, _CONTAINERS):
        weight = _weight(seq)
        if weight > MAX_ITEMS:
            raise _too_big("排序或取最大最小值")
        _spend(weight)


def _sized_first(fn, what):
    """sorted/min/max/repr: refused when the one container they walk holds too much (or, for
    min/max of several values, when comparing them would walk too much)."""
    def guarded(*args, **kwargs):
        if len(args) == 1 and what == "sort":
            if not isinstance(args[0], _CONTAINERS + (str, bytes, range)):
                args = (list(args[0]),)  # a generator: its items, then what they hold
            _check_sortable(args[0])
        elif len(args) == 1:
            _fvalue(args[0], "转为文字")
        else:
            for other in args[1:]:
                _check_compare(args[0], other)
        return fn(*args, **kwargs)
    guarded.__name__ = fn.__name__
    return guarded


class _GuardedType(type):
    """`str`, `list`, `dict` … for restricted code: calling one is checked (str(x) of a container
    is refused when its text would be huge, a copy counts against the budget); otherwise the
    real type (isinstance, issubclass and str.upper keep working)."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._real)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._real)

    def __call__(cls, *args, **kwargs):
        if cls._real is str:
            if len(args) == 1:
                _fvalue(args[0], "转为文字")
            elif len(args) > 1 or "encoding" in kwargs:
                _check_codec(args[1] if len(args) > 1 else kwargs["encoding"])
        elif args and hasattr(args[0], "__len__"):
            _spend(len(args[0]), allocates=True)
        return cls._real(*args, **kwargs)

    def __getattr__(cls, name):
        return getattr(cls._real, name)


def _round(number, ndigits=None):
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:  # round(5, -10**9) computes 10**10**9
        raise UnsafeExpression(f"round 的位数不能超过 {MAX_ROUND_DIGITS}")
    return round(number) if ndigits is None else round(number, ndigits)


def _getitem(ob, index):
    if isinstance(index, slice) and isinstance(ob, (str, bytes, list, tuple)):
        _spend(len(range(*index.indices(len(ob)))), allocates=True)
    return ob[index]


class _ListWriter:
    """What `L[i] = v` and `del L[i]` write through for a list: a slice assignment may not
    grow it past the item limit (L[:0] = L doubles it, like .extend)."""
    __slots__ = ("ob",)

    def __init__(self, ob):
        object.__setattr__(self, "ob", ob)

    def __setitem__(self, key, value):
        if isinstance(key, slice):
            value = value if isinstance(value, (list, tuple, str, bytes)) else list(value)
            if len(self.ob) + len(value) > MAX_ITEMS:
                raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
            _spend(len(value), allocates=True)
        self.ob[key] = value

    def __delitem__(self, key):
        del self.ob[key]


def _write(ob):
    return _ListWriter(ob) if type(ob) is list else full_write_guard(ob)


def _sum(iterable, start=0):
    """sum() of lists or tuples copies the total so far for every item (quadratic): concatenate
    once instead, within the item limit."""
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    result = list(start)
    for item in iterable:
        if type(item) is not type(start):
            raise TypeError(f"can only concatenate {type(start).__name__} (not \"{type(item).__name__}\")")
        if len(result) + len(item) > MAX_ITEMS:
            raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
        _spend(len(item), allocates=True)
        result.extend(item)
    return result if isinstance(start, list) else tuple(result)


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
    for name in ("sorted", "min", "max"):
        b[name] = _sized_first(b[name], "sort")
    b["repr"] = _sized_first(b["repr"], "text")
    for name in ("str", "list", "tuple", "set", "dict"):
        b[name] = _GuardedType(name, (), {"_real": b[name]})
    b["round"] = _round
    b["sum"] = _sum
    return b


SAFE_GLOBALS = {
    "__builtins__": _builtins(),
    "_getattr_": _safe_getattr,
    "_getitem_": _getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write,
    "_inplacevar_": _inplacevar,
    "_binop_": _binop,
    "_compare_": _compare,
    "_fvalue_": _fvalue,
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


_statm = {"pid": None, "fd": None}


def _resident():
    """This process's resident memory in bytes, or None where /proc is not there. The file is
    opened once per process (a forked server's children each open their own)."""
    if _statm["pid"] != os.getpid():
        try:
            _statm["fd"] = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            _statm["fd"] = None
        _statm["pid"] = os.getpid()
    if _statm["fd"] is None:
        return None
    try:
        return int(os.pread(_statm["fd"], 128, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MemoryExceeded(LimitExceeded):
    pass


def _run(fn, code, scope):
    """Run restricted code under the step, time and memory budget; the caller's tracer is
    restored."""
    budget = {"steps": 0, "lines": 0, "deadline": time.monotonic() + MAX_SECONDS, "memory": None, "work": 0,
              "unchecked": 0}

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != _FILENAME:
            return None
        budget["steps"] += 1
        if budget["steps"] > MAX_STEPS or time.monotonic() > budget["deadline"]:
            raise LimitExceeded
        if event == "line":
            lines = budget["lines"] = budget["lines"] + 1
            # from a second line on (a script, a loop, a comprehension) memory is counted; a
            # first reading (here or by a guard before it allocated) is the baseline
            if lines >= 2 and (budget["memory"] is None or lines % MEMORY_CHECK_EVERY == 0):
                _check_memory(budget)
        return tracer

    previous, outer = sys.gettrace(), getattr(_current, "budget", None)
    _current.budget = budget
    sys.settrace(tracer)
    try:
        result = fn(code, scope)
        # (a one-line expression allocates no more than its guarded operations allow)
        if budget["memory"] is not None and _resident() > budget["memory"]:
            raise MemoryExceeded
        return result
    except MemoryExceeded:
        raise UnsafeExpression(f"运行超出内存限制（{MAX_MEMORY // 1024 // 1024} MB）") from None
    except WorkExceeded:
        raise UnsafeExpression(f"运行超出限制（运算量超过 {MAX_TOTAL_WORK} 项）") from None
    except LimitExceeded:
        raise UnsafeExpression(f"运行超出限制（{MAX_STEPS} 步或 {MAX_SECONDS:g} 秒）") from None
    except RecursionError:
        raise UnsafeExpression("嵌套过深") from None
    except MemoryError:
        raise UnsafeExpression("内存不足") from None
    finally:
        sys.settrace(previous)
        _current.budget = outer


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
