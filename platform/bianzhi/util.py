"""Small shared helpers."""
import gc
from contextlib import contextmanager
from datetime import timezone
from zoneinfo import ZoneInfo


LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local(value, fmt="%Y-%m-%d %H:%M"):
    """Format a stored (naive UTC) timestamp in Beijing time."""
    if value is None:
        return ""
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).strftime(fmt)


KEY_MAX = 2**31 - 1  # INTEGER keys (32-bit on PostgreSQL; SQLite refuses Python ints beyond 64 bits)


def utc_iso(value):
    """A stored timestamp (naive UTC) as the API writes it: ISO 8601 with +00:00; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def key_int(value, default=None, low=-KEY_MAX, high=KEY_MAX):
    """A request value as an int a database column can be compared with, else `default`:
    "12" -> 12, "x" / "" / None / 10**30 -> default. Use it for ids, pages and years from URLs."""
    if isinstance(value, bool):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


@contextmanager
def no_gc_pauses():
    """Build many short, acyclic objects (a report's tens of thousands of rows) without the
    cyclic garbage collector walking the whole heap meanwhile: in a long-running worker with a
    large heap, the allocations alone trigger full collections. Reference counting still frees
    everything; the collector runs again afterwards (the switch is per process: with threads,
    whichever block found it on turns it back on, so it never stays off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
