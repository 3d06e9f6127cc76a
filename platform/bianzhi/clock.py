"""The platform's clock, the only source of "now" and "today" in product code and tests:
`now()` (naive UTC, as timestamps are stored) and `today()` (the date in Beijing, which is what
dates, years, case numbers and working-day deadlines count in, whatever the machine's time zone).

Deadlines, reminders and timers read the time only through here, so a test or the worker can
put the platform at any moment: `with clock.use(lambda: datetime(2024, 9, 27, 1, 0)): ...`.
The override is a context variable: each thread (each racing worker) has its own.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, time, timedelta, timezone

from .util import LOCAL_TZ

_source = ContextVar("bianzhi_clock", default=None)


def real_now():
    """The machine's time as naive UTC: the default source, and what elapsed-time measurements
    (budgets, timeouts) use when a pinned clock must not stop them."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def now():
    source = _source.get()
    return source() if source is not None else real_now()


def today():
    return local_date(now())


def local_date(value):
    """The Beijing date of a naive UTC timestamp."""
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def at_local(day, hour=0, minute=0):
    """Naive UTC for `day` at hour:minute Beijing time."""
    return (datetime.combine(day, time(hour, minute), LOCAL_TZ).astimezone(timezone.utc)
            .replace(tzinfo=None))


def start_of_next_day(day):
    return at_local(day + timedelta(days=1))


@contextmanager
def use(source):
    """Run the block with `source()` as the platform's time."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)
