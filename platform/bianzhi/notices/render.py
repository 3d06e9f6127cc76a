"""PDF rendering (WeasyPrint) in short-lived child processes, so no web or worker process grows.

WeasyPrint subsetting the Noto CJK fonts takes a process from ~110 MB to ~800 MB, and Python
does not give that memory back. Each render therefore runs in a child forked from a small fork
server that has WeasyPrint imported already (so a render does not pay the ~0.8 s import), and the
child exits after one render: the memory goes back to the system, and an app server's processes
stay at their size (issue 8: ≤ 300 MB per web worker). The fork server is single-threaded, so
forking it is safe even from gunicorn's threaded workers.

The fork server and its children go when the process that started them goes (a web or worker
process stopped, even by kill -9): each child waits for the renders of the process that created
the pool and holds the fork server's liveness pipe, so each child watches that process
(`_exit_with`, a pidfd) and exits with it, and the fork server, its last client gone, exits too.
"""
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from ..errors import Unavailable

RENDER_TIMEOUT = 120  # seconds; a notice renders in well under one
_lock = threading.Lock()
_pool = None


def _write_pdf(html):  # runs in the child
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def _exit_with(pid):  # runs in each child as it starts (the pool's initializer)
    """Exit as soon as process `pid` (the one that asks for the renders) has ended. The child
    is the fork server's, not `pid`'s, so PR_SET_PDEATHSIG would not tell; a pidfd becomes
    readable when `pid` exits (Linux 5.3+; elsewhere `pid` is polled every second)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):
        fd = None

    def watch():
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                time.sleep(1)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
        os._exit(0)

    threading.Thread(target=watch, name="render-parent-watch", daemon=True).start()


def _executor():
    global _pool
    with _lock:
        if _pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["weasyprint", __name__])
            _pool = ProcessPoolExecutor(max_workers=2, mp_context=ctx, max_tasks_per_child=1,
                                        initializer=_exit_with, initargs=(os.getpid(),))
        return _pool


def _reset(pool):
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for child in list(getattr(pool, "_processes", {}).values()):  # a render stuck past the timeout
        child.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def render(html):
    """The PDF bytes of `html`, rendered in a child process."""
    pool = _executor()
    try:
        return pool.submit(_write_pdf, html).result(timeout=RENDER_TIMEOUT)
    except BrokenProcessPool:  # a child died (killed, out of memory): the next call starts afresh
        _reset(pool)
        raise Unavailable("生成 PDF 的进程意外退出，请稍后重试", code="render_failed") from None
    except FutureTimeout:
        _reset(pool)
        raise Unavailable(f"生成 PDF 超过 {RENDER_TIMEOUT} 秒未完成，请稍后重试", code="render_timeout") from None
