"""Restricted evaluation of gateway conditions and scripts in diagrams.

Diagrams are data edited by process owners; their expressions must not reach Python's
internals. Every expression is compiled with RestrictedPython (no dunder names, no
attribute writes, guarded getattr/getitem/iteration) and run against a small whitelist of
builtins. SpiffWorkflow's TaskDataEnvironment alone is no sandbox (ENGINE-NOTES trap 1).
"""
import ast
from functools import lru_cache

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence,
                                     guarded_unpack_sequence, safer_getattr)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

_INPLACE = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b}


def _inplacevar(op, x, y):
    if op not in _INPLACE:
        raise SyntaxError(f"不支持的运算符 {op}")
    return _INPLACE[op](x, y)


def _builtins():
    b = dict(safe_builtins)
    b.update(limited_builtins)
    for name in ("sum", "min", "max", "any", "all", "sorted", "enumerate", "dict", "list", "set"):
        b[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    return b


SAFE_GLOBALS = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
}


class UnsafeExpression(ValueError):
    pass


@lru_cache(maxsize=4096)
def compile_expression(expression):
    result = compile_restricted_eval(expression.strip())
    if result.errors or result.code is None:
        raise UnsafeExpression("；".join(result.errors) or "无法编译")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(script):
    try:
        tree = ast.parse(script)
    except SyntaxError as exc:
        raise UnsafeExpression(f"语法错误：第 {exc.lineno} 行") from None
    if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree)):
        raise UnsafeExpression("脚本中不允许 import")
    result = compile_restricted_exec(script)
    if result.errors or result.code is None:
        raise UnsafeExpression("；".join(result.errors) or "无法编译")
    return result.code


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
        return eval(code, scope)  # noqa: S307 - restricted bytecode, guarded globals

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        scope = dict(SAFE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        exec(code, scope)  # noqa: S102 - restricted bytecode, guarded globals
        for key, value in scope.items():
            if key.startswith("_") or key in SAFE_GLOBALS or callable(value):
                continue
            context[key] = value
        return True


def script_engine():
    return PythonScriptEngine(environment=RestrictedEnvironment())
