"""What restricted code may do while it runs (layer 2 of the sandbox, see sandbox.py): the guards
the compiled code calls for arithmetic, comparisons, f-string fields, attribute and item access and
writes, the checked stand-ins for the builtins, and SAFE_GLOBALS that holds them. No single
operation may do unbounded work in C; what a guarded operation walks or allocates is spent from the
evaluation's budget (budget.py)."""
import operator
import re

from RestrictedPython import limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)

from .budget import UnsafeExpression, spend

MAX_ITEMS = 1_000_000      # characters of a string, items of a list made by * or +
MAX_INT_BITS = 10_000      # about 3,000 decimal digits
MAX_FORMAT_WIDTH = 1000
MAX_WORK = 20_000_000      # items and characters one search or comparison may walk (in, ==, .count …)
MAX_ROUND_DIGITS = 1000
CODECS = {"utf-8", "utf8", "utf_8", "utf-16", "utf_16", "utf16", "utf-32", "utf_32", "ascii", "latin-1", "latin1",
          "latin_1", "iso-8859-1", "iso8859-1", "gbk", "gb2312", "gb18030", "big5"}

# names that reach the interpreter or its objects; refused at validation, absent at run time
FORBIDDEN_NAMES = {"getattr", "setattr", "delattr", "hasattr", "eval", "exec", "compile", "open", "input",
                   "globals", "locals", "vars", "dir", "type", "object", "super", "breakpoint", "help",
                   "memoryview", "bytearray", "classmethod", "staticmethod", "property", "pow", "format",
                   "print", "exit", "quit", "id", "iter", "next", "aiter", "anext"}
# methods that allocate on request or read object internals through a format string
FORBIDDEN_ATTRIBUTES = {"format", "format_map", "ljust", "rjust", "center", "zfill", "expandtabs",
                        "translate", "maketrans",
                        "mro", "gi_frame", "gi_code", "gi_yieldfrom", "f_globals", "f_locals", "f_back", "f_builtins",
                        "cr_frame", "cr_code", "ag_frame", "ag_code",
                        "tb_frame", "co_code"}


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
        spend(len(haystack) * (1 + needle_weight))
        return
    work = 0
    for item in haystack:
        work += 1 + min(needle_weight, _weight(item, needle_weight))
        if work > MAX_WORK:
            raise _too_big(what, MAX_WORK)
    spend(work)


def _check_compare(a, b):
    """Comparing two containers walks both, item by item."""
    if isinstance(a, _CONTAINERS) and isinstance(b, _CONTAINERS) and a is not b:
        work = min(_weight(a, MAX_WORK), _weight(b, MAX_WORK))
        if work > MAX_WORK:
            raise _too_big("比较", MAX_WORK)
        spend(work)


_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


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
            spend(len(a) + weight, allocates=True)
        if isinstance(a, (str, bytes)):
            text = a if isinstance(a, str) else a.decode("latin-1")
            for width in re.findall(r"%[-#0 +]*(\*|\d+)(?:\.(\*|\d+))?", text):
                if any(w == "*" or (w and int(w) > MAX_FORMAT_WIDTH) for w in width):
                    raise UnsafeExpression(f"格式宽度不能超过 {MAX_FORMAT_WIDTH}")


_OPS = {"*": lambda a, b: a * b, "**": lambda a, b: a ** b, "<<": lambda a, b: a << b,
        "+": lambda a, b: a + b, "%": lambda a, b: a % b, "-": lambda a, b: a - b}


def _binop(op, a, b):
    _check_result_size(op, a, b)
    result = _OPS[op](a, b)
    if isinstance(result, (str, bytes, list, tuple)) and len(result) > 64:
        spend(len(result), allocates=True)
    return result


def _inplacevar(op, x, y):
    if op not in ("+=", "-=", "*="):
        raise UnsafeExpression(f"不支持的运算符 {op}")
    return _binop(op[0], x, y)


def _fvalue(value, what="f 字符串"):
    if isinstance(value, _CONTAINERS):
        weight = _weight(value)
        if weight > MAX_ITEMS:
            raise _too_big(what)
        spend(weight, allocates=True)
    elif isinstance(value, (str, bytes)) and len(value) > 64:
        spend(len(value), allocates=True)
    return value


def _guard_method(obj, name, method):
    """Methods of strings and lists whose work or result is not bounded by their object's size."""
    if name == "join":
        def join(iterable):
            items = list(iterable)
            total = sum(len(i) if isinstance(i, (str, bytes)) else 1 for i in items) + len(obj) * max(len(items) - 1, 0)
            if total > MAX_ITEMS:
                raise _too_big("拼接（join）")
            spend(total + len(items), allocates=True)
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
            spend(2 * len(obj), allocates=True)
            return method(old, new, count)
        return replace
    if name == "extend" and isinstance(obj, list):
        def extend(iterable):
            items = iterable if isinstance(iterable, (list, tuple, str, bytes)) else list(iterable)
            if len(obj) + len(items) > MAX_ITEMS:
                raise UnsafeExpression(f"结果过大（超过 {MAX_ITEMS} 项）")
            spend(len(items), allocates=True)
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
            spend(work)
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
            spend(len(obj), allocates=True)
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
        spend(weight)


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
            spend(len(args[0]), allocates=True)
        return cls._real(*args, **kwargs)

    def __getattr__(cls, name):
        return getattr(cls._real, name)


def _round(number, ndigits=None):
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:  # round(5, -10**9) computes 10**10**9
        raise UnsafeExpression(f"round 的位数不能超过 {MAX_ROUND_DIGITS}")
    return round(number) if ndigits is None else round(number, ndigits)


def _getitem(ob, index):
    if isinstance(index, slice) and isinstance(ob, (str, bytes, list, tuple)):
        spend(len(range(*index.indices(len(ob)))), allocates=True)
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
            spend(len(value), allocates=True)
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
        spend(len(item), allocates=True)
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
