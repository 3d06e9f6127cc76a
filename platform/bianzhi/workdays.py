"""Working days with Chinese public holidays and make-up workdays (chinese-calendar).

chinese-calendar knows the years the State Council has announced; for a later year we count
Monday to Friday, and `is_estimated` says so, until the package is updated.
"""
from datetime import timedelta
from functools import lru_cache

import chinese_calendar


def is_workday(day):
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def is_estimated(day):
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return True
    return False


@lru_cache(maxsize=4096)
def add_workdays(start, days):
    """The date `days` working days after `start` (start itself not counted); a negative
    `days` counts back to the working day that many working days before. Cached: the calendar
    is fixed for the process, and every completion asks for today + a step's limit (each day
    walked is a chinese-calendar lookup)."""
    current = start
    remaining = int(days)
    step = timedelta(days=1 if remaining >= 0 else -1)
    remaining = abs(remaining)
    while remaining > 0:
        current += step
        if is_workday(current):
            remaining -= 1
    return current


def workdays_between(start, end):
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end < start:
        return -workdays_between(end, start)
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        count += is_workday(current)
    return count

