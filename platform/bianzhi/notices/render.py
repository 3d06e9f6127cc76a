"""PDF rendering (WeasyPrint) in short-lived child processes, so no web or worker process grows.

WeasyPrint subsetting the Noto CJK fonts takes a process from ~110 MB to ~800 MB, and Python
does not give that memory back. Each render therefore runs in a child forked from a small fork
server that has WeasyPrint imported already (so a render does not pay the ~0.8 s import), and the
child exits after one render: the memory goes back to the system, and an app server's processes
stay at their size (issue 8: ≤ 300 MB per web worker). The fork server is single-threaded, so
forking it is safe even from gunicorn's threaded workers.
"""
import multiprocessing
import threading
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


def _executor():
    global _pool
    with _lock:
        if _pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["weasyprint", __name__])
            _pool = ProcessPoolExecutor(max_workers=2, mp_context=ctx, max_tasks_per_child=1)
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
