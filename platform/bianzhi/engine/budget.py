"""The budget of one evaluation of restricted code (layer 3 of the sandbox, see sandbox.py): 200,000
traced lines, 1 second of wall time, 100,000,000 items and characters touched by the guarded
operations (guards.py spends from it), and 100 MB of growth of the process's resident memory.
Lines and time are enforced by a trace function; memory is read from /proc at every line from the
second on, before every 1,000,000 items/characters a guarded operation allocates, and at the end.
Only the evaluation is refused: nothing else in the process (another thread) is limited."""
import os
import sys
import threading
import time

MAX_STEPS = 200_000        # traced line events per evaluation
MAX_SECONDS = 1.0          # wall time per evaluation
MAX_TOTAL_WORK = 100_000_000  # items and characters all guarded operations of one evaluation may touch
MAX_MEMORY = 100 * 1024 * 1024  # growth of the process's resident memory per evaluation
MEMORY_CHECK_EVERY = 1     # line events between two readings of the resident memory
MEMORY_CHECK_WORK = 1_000_000  # items and characters allocated by guarded operations between two readings


class UnsafeExpression(ValueError):
    pass


class LimitExceeded(BaseException):
    """Raised inside a running expression when it exceeds its budget. A BaseException so that
    no handler in the expression could swallow it (and `try` is refused anyway)."""


class WorkExceeded(BaseException):
    """Raised by a guard when one evaluation's guarded operations have done too much work."""


_current = threading.local()  # the budget of the evaluation running in this thread


def spend(work, allocates=False):
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
FILENAME = "<bianzhi-expression>"


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


def run(fn, code, scope):
    """Run restricted code under the step, time and memory budget; the caller's tracer is
    restored."""
    budget = {"steps": 0, "lines": 0, "deadline": time.monotonic() + MAX_SECONDS, "memory": None, "work": 0,
              "unchecked": 0}

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != FILENAME:
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
