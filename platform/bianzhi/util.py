"""Small shared helpers."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def utcnow():
    """Naive UTC timestamp (stored the same way on SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local(value, fmt="%Y-%m-%d %H:%M"):
    """Format a stored (naive UTC) timestamp in Beijing time."""
    if value is None:
        return ""
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).strftime(fmt)
