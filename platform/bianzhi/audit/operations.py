"""Writing and verifying the audit log (append only; nothing here updates or deletes).

Each entry's hash covers its content and the previous entry's hash. Appends are serialized
(a transaction-scoped advisory lock on PostgreSQL; SQLite's write lock already does it), so the
chain is a single line in id order. `verify()` recomputes it and names the first break.
"""
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select, text

from .. import clock
from ..extensions import db
from .models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x6269616E  # "bian"


def _digest(prev_hash, at, user_id, action, target, detail, ip):
    body = json.dumps([prev_hash, at.isoformat(timespec="microseconds"), user_id, action, target, detail, ip],
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


_TABLE = AuditEntry.__table__
_HEAD = select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)


def record(user, action, target=None, ip=None, **detail):
    """Append an entry. Core statements on the session's connection, in its transaction: an
    entry is never read back as an object, so the ORM's unit of work (a flush of everything
    pending) is not needed here; what the request changed is flushed with its commit."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(_HEAD).scalar() or GENESIS
    at = clock.now()
    user_id = user.id if user is not None else None
    detail = json.loads(json.dumps(detail, ensure_ascii=False, default=str))  # as it will read back
    conn.execute(_TABLE.insert(), {"at": at, "user_id": user_id, "action": action, "target": target,
                                   "detail": detail, "ip": ip, "prev_hash": prev,
                                   "hash": _digest(prev, at, user_id, action, target, detail, ip)})


@dataclass
class Verdict:
    ok: bool
    count: int
    head: str
    problem: str | None = None


def verify(batch=5000):
    """Walk the chain in id order; the first entry whose content or link does not match is
    reported (edited rows change their hash, deleted rows break the next link)."""
    prev, count, last_id = GENESIS, 0, 0
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.user_id, AuditEntry.action, AuditEntry.target,
               AuditEntry.detail, AuditEntry.ip, AuditEntry.prev_hash, AuditEntry.hash)
    while True:
        rows = db.session.execute(select(*columns).where(AuditEntry.id > last_id)
                                  .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return Verdict(True, count, prev)
        for row in rows:
            if row.prev_hash != prev:
                return Verdict(False, count, prev, f"第 {row.id} 条的前序哈希不符：其前的记录被删除或改动")
            expected = _digest(row.prev_hash, row.at, row.user_id, row.action, row.target, row.detail, row.ip)
            if row.hash != expected:
                return Verdict(False, count, prev, f"第 {row.id} 条的内容与哈希不符：该记录被改动")
            prev, count, last_id = row.hash, count + 1, row.id
