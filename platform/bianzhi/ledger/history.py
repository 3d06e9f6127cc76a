"""The ledger as it stood on a past date, replayed backwards from the chronicle's deltas."""
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from .models import ChronicleEntry
from .operations import figures, warning


def figures_as_of(unit, moment):
    """Per category: approved, on roll, reserved, vacancy, warning at `moment` (naive UTC
    datetime, or a date meaning the end of that day)."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.max.time())
    current = {f["category"]: dict(f) for f in figures(unit)}
    later = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.unit_id == unit.id,
                                                            ChronicleEntry.at > moment,
                                                            ChronicleEntry.delta.is_not(None)))
    for entry in later:
        delta = entry.delta
        line = current.setdefault(delta["category"], {"category": delta["category"], "approved": 0,
                                                      "on_roll": 0, "reserved": 0})
        for key in ("approved", "on_roll", "reserved"):
            line[key] -= delta.get(key, 0)
    result = []
    for line in current.values():
        line["vacancy"] = line["approved"] - line["on_roll"] - line["reserved"]
        line["warning"] = warning(line["approved"], line["on_roll"], line["vacancy"])
        result.append(line)
    return result
