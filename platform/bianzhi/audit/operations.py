"""Writing and verifying the audit log (append only; nothing here updates or deletes).

Entries are written by `record()` (Core statements) or added as AuditEntry objects (chained and
signed as they are inserted: the mapper's before_insert); both are followed by the head file.

Each entry's hash is an HMAC-SHA256, under a key that is not in the database, of its content and
the previous entry's hash. Appends are serialized (a transaction-scoped advisory lock on
PostgreSQL; SQLite's write lock already does it), so the chain is a single line in id order.
Someone who can only write the database therefore cannot edit an entry and recompute the hashes
after it, nor append an entry of their own.

Deleting the newest entries (or all of them) leaves a shorter chain that is still whole, so the
chain's head (the newest entry's id and HMAC, and how many entries there are up to it) is also
kept outside the database: a small file (AUDIT_HEAD_FILE, default instance/audit-<hash of the
database URL>.head, one per database the instance serves) rewritten,
atomically, each time a transaction that audited commits (the session's after_commit: an entry
rolled back, with its transaction or its savepoint, never becomes the head). `flask audit-head`
prints it for keeping offsite. `verify()` walks the chain, checks every link and HMAC, and then
that the head entry is there, unchanged, at its place, and names what broke.

The key: AUDIT_KEY (config or environment), else the file AUDIT_KEY_FILE (default
instance/audit.key, created with mode 0600 on first use). Back it up apart from the database (a
restore needs it to verify); keep it off the database server.

Several app servers sharing one database must share the key (set AUDIT_KEY on each), and the head
file is per installation: each server's head covers the entries it wrote, so either put
AUDIT_HEAD_FILE on storage they share (it is updated under an flock) or run audit-verify on each
of them; a truncation of the entries written after a server's last one is caught only by the head
of the server(s) that wrote them.

Entries written before the chain was keyed (plain SHA-256) still verify: the chain may begin
with such entries, but once a keyed entry has been seen every later one must be keyed.
"""
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, object_session

from .. import clock
from ..extensions import db
from .models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x6269616E  # "bian"
_PENDING = "audit_pending"  # session.info: entries appended in the open transaction
_FLUSH_PREV = "audit_flush_prev"  # session.info: the hash of the entry last inserted in this flush
log = logging.getLogger("bianzhi.audit")


def _body(prev_hash, at, user_id, action, target, detail, ip):
    return json.dumps([prev_hash, at.isoformat(timespec="microseconds"), user_id, action, target, detail, ip],
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def _digest(prev_hash, at, user_id, action, target, detail, ip):
    """The unkeyed hash of the entries written before the chain was keyed."""
    return hashlib.sha256(_body(prev_hash, at, user_id, action, target, detail, ip)).hexdigest()


def _mac(key, prev_hash, at, user_id, action, target, detail, ip):
    return hmac.new(key, _body(prev_hash, at, user_id, action, target, detail, ip), hashlib.sha256).hexdigest()


# -- the key and the head file ------------------------------------------------------------------

def _instance_file(setting, name):
    return Path(current_app.config.get(setting) or Path(current_app.instance_path) / name)


def audit_key():
    """The HMAC key (bytes): AUDIT_KEY, else the key file, made on first use (mode 0600)."""
    cached = current_app.extensions.get("bianzhi.audit_key")
    if cached is not None:
        return cached
    if current_app.config.get("AUDIT_KEY"):
        key = str(current_app.config["AUDIT_KEY"]).encode()
    else:
        path = _instance_file("AUDIT_KEY_FILE", "audit.key")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
        key = path.read_text().strip().encode()
        if not key:
            raise RuntimeError(f"审计密钥文件 {path} 为空")
    current_app.extensions["bianzhi.audit_key"] = key
    return key


def head_file():
    """AUDIT_HEAD_FILE, else instance/audit-<database>.head: one per database the instance folder
    serves (a benchmark or a second database beside the real one must not move its head)."""
    if current_app.config.get("AUDIT_HEAD_FILE"):
        return Path(current_app.config["AUDIT_HEAD_FILE"])
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    return Path(current_app.instance_path) / f"audit-{hashlib.sha256(url.encode()).hexdigest()[:12]}.head"


class BadHead(ValueError):
    pass


def read_head(path=None):
    """The head as written ({"id", "hmac", "count", "at"}), or None if there is none yet."""
    path = Path(path or head_file())
    try:
        head = json.loads(path.read_text())
        if not (isinstance(head["id"], int) and isinstance(head["count"], int) and isinstance(head["hmac"], str)):
            raise TypeError
        return head
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise BadHead(f"审计链头文件 {path} 已损坏") from None


def _write_head(path, head):
    """Atomically: a temporary file beside it, renamed over it (a crash leaves the old head or the
    new one). Not fsynced (that tripled an audited commit's time): after a power loss the head may
    lag the database, and a head that lags still verifies, since every entry after it is keyed."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(head, f, ensure_ascii=False)
    os.replace(tmp, path)


class _HeadLock:
    """An exclusive flock on `<head>.lock`: the app server's processes update the head in turn."""

    def __init__(self, path):
        self.path = Path(str(path) + ".lock")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def forget_head(path=None):
    """Remove the head file: only for a database rebuilt from nothing (tests, a fresh demo)."""
    path = Path(path or head_file())
    with _HeadLock(path):
        path.unlink(missing_ok=True)


# -- appending ----------------------------------------------------------------------------------

_TABLE = AuditEntry.__table__
_HEAD = select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)


def record(user, action, target=None, ip=None, **detail):
    """Append an entry. Core statements on the session's connection, in its transaction: an
    entry is never read back as an object, so the ORM's unit of work (a flush of everything
    pending) is not needed here; what the request changed is flushed with its commit. The head
    file follows when the transaction commits."""
    session = db.session()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(_HEAD).scalar() or GENESIS
    at = clock.now()
    user_id = user.id if user is not None else None
    detail = json.loads(json.dumps(detail, ensure_ascii=False, default=str))  # as it will read back
    digest = _mac(audit_key(), prev, at, user_id, action, target, detail, ip)
    result = conn.execute(_TABLE.insert(), {"at": at, "user_id": user_id, "action": action, "target": target,
                                            "detail": detail, "ip": ip, "prev_hash": prev, "hash": digest})
    pending = session.info.setdefault(_PENDING, {"file": str(head_file()), "entries": []})
    pending["entries"].append((result.inserted_primary_key[0], digest, session.in_nested_transaction()))


@event.listens_for(AuditEntry, "before_insert")
def _chain_orm_insert(mapper, connection, target):
    """An entry added as an object (db.session.add(AuditEntry(...))) is chained and signed like
    one written by record(); several in one flush are chained in the order they are inserted."""
    session = object_session(target)
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = session.info.get(_FLUSH_PREV) or connection.execute(_HEAD).scalar() or GENESIS
    target.at = target.at or clock.now()
    target.detail = json.loads(json.dumps(target.detail or {}, ensure_ascii=False, default=str))
    target.prev_hash = prev
    target.hash = session.info[_FLUSH_PREV] = _mac(audit_key(), prev, target.at, target.user_id, target.action,
                                                   target.target, target.detail, target.ip)


@event.listens_for(AuditEntry, "after_insert")
def _pending_orm_insert(mapper, connection, target):
    session = object_session(target)
    pending = session.info.setdefault(_PENDING, {"file": str(head_file()), "entries": []})
    pending["entries"].append((target.id, target.hash, session.in_nested_transaction()))


@event.listens_for(Session, "after_flush")
def _flush_done(session, context):
    session.info.pop(_FLUSH_PREV, None)


@event.listens_for(Session, "after_commit")
def _head_after_commit(session):
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        _advance_head(session, Path(pending["file"]), pending["entries"])
    except Exception:  # the entries are committed; a head left behind still verifies
        log.exception("审计链头文件未能更新：%s", pending["file"])


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session, transaction):
    session.info.pop(_FLUSH_PREV, None)  # a flush that failed half-way
    if transaction.parent is None:  # the outermost transaction ended (committed or not)
        session.info.pop(_PENDING, None)


def _reader(session):
    """Where to read the committed chain: a connection of its own (the session's transaction is
    over), or the connection the session was bound to (a session joined to an outer transaction,
    as in the rolled-back tests: a second connection could not see its rows, and on SQLite would
    wait for its lock)."""
    bind = session.get_bind()
    return bind.connect() if isinstance(bind, Engine) else nullcontext(bind)


def _advance_head(session, path, entries):
    # an entry made inside a savepoint may have been rolled back with it (and its id given to a
    # later one): keep those still there, by id and hash
    nested = [id_ for id_, _h, in_savepoint in entries if in_savepoint]
    if nested:
        with _reader(session) as conn:
            present = set(conn.execute(select(_TABLE.c.id, _TABLE.c.hash).where(_TABLE.c.id.in_(nested))).all())
        entries = [e for e in entries if not e[2] or (e[0], e[1]) in present]
    if not entries:
        return
    last_id, last_hmac, _ = max(entries)
    with _HeadLock(path):
        try:
            head = read_head(path)
        except BadHead:
            log.error("审计链头文件已损坏，按日志重新计数：%s", path)
            head = None
        if head is None:  # the first keyed append here: the chain's length up to it, once
            with _reader(session) as conn:
                count = conn.execute(select(func.count()).select_from(_TABLE)
                                     .where(_TABLE.c.id <= last_id)).scalar()
        else:
            count = head["count"] + len(entries)
        if head is not None and head["id"] > last_id:  # another process's later entry got here first
            last_id, last_hmac = head["id"], head["hmac"]
        _write_head(path, {"id": last_id, "hmac": last_hmac, "count": count,
                           "at": clock.now().isoformat(timespec="seconds")})


# -- verifying ----------------------------------------------------------------------------------

@dataclass
class Verdict:
    ok: bool
    count: int
    head: str
    problem: str | None = None
    last_id: int = 0


def verify(batch=5000, check_head=True):
    """Walk the chain in id order: the first entry whose link, content or HMAC does not match is
    reported (edited rows change their hash, deleted rows break the next link, forged rows have
    no valid HMAC); then the head file's entry must be there, unchanged, at its place (deleted
    newest entries, an emptied table)."""
    key = audit_key()
    path = head_file()
    try:
        head = read_head(path) if check_head else None
    except BadHead as exc:
        return Verdict(False, 0, GENESIS, f"{exc}，无法核对最新的记录；请用异地保存的链头（flask audit-head）核对")
    prev, count, last_id, keyed, at_head = GENESIS, 0, 0, False, None
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.user_id, AuditEntry.action, AuditEntry.target,
               AuditEntry.detail, AuditEntry.ip, AuditEntry.prev_hash, AuditEntry.hash)
    while True:
        rows = db.session.execute(select(*columns).where(AuditEntry.id > last_id)
                                  .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev:
                return Verdict(False, count, prev, f"第 {row.id} 条的前序哈希不符：其前的记录被删除或改动", last_id)
            content = (row.prev_hash, row.at, row.user_id, row.action, row.target, row.detail, row.ip)
            if hmac.compare_digest(row.hash, _mac(key, *content)):
                keyed = True
            elif keyed or row.hash != _digest(*content):
                return Verdict(False, count, prev, f"第 {row.id} 条的内容与哈希不符：该记录被改动或伪造"
                                                   "（不是用本系统的审计密钥签名的）", last_id)
            prev, count, last_id = row.hash, count + 1, row.id
            if head is not None and row.id == head["id"]:
                at_head = (count, row.hash)
    if not check_head:
        return Verdict(True, count, prev, None, last_id)
    if head is None:
        if keyed:
            return Verdict(False, count, prev, f"链头文件 {path} 不存在：无法确认最新的记录未被删除，"
                                               "请用异地保存的链头（flask audit-head）核对", last_id)
        return Verdict(True, count, prev, None, last_id)
    if at_head is None:
        where = f"第 {last_id} 条之后的记录缺失" if last_id else "日志已被清空"
        return Verdict(False, count, prev, f"{where}：链头记载最新一条为第 {head['id']} 条（共 {head['count']} 条），"
                                           "该记录已不在日志中，最新的记录被删除", last_id)
    position, digest = at_head
    if not hmac.compare_digest(digest, head["hmac"]):
        return Verdict(False, count, prev, f"第 {head['id']} 条与链头记载的签名不符：该记录被改动", last_id)
    if position < head["count"]:
        return Verdict(False, count, prev, f"链头记载第 {head['id']} 条是第 {head['count']} 条记录，"
                                           f"而日志中到它只有 {position} 条：其前的记录被删除", last_id)
    return Verdict(True, count, prev, None, last_id)


def anchor_head():
    """After a restore: the head file set to the restored chain's newest entry (the chain is
    verified first, without the old head). Returns the verdict."""
    verdict = verify(check_head=False)
    if verdict.ok:
        path = head_file()
        with _HeadLock(path):
            if verdict.last_id:
                _write_head(path, {"id": verdict.last_id, "hmac": verdict.head, "count": verdict.count,
                                   "at": clock.now().isoformat(timespec="seconds")})
            else:
                path.unlink(missing_ok=True)
    return verdict



def scope_clause(user):
    """A WHERE clause on AuditEntry: the entries an auditor or an administrator reads, those of
    their office's jurisdiction (their office and every office below it, organisation.scope):
    - entries written by a user of it: bureau staff of those offices, the clerks of their units,
      the users of their partner departments;
    - entries about a unit, a case, a user or an office of it (the target), whoever wrote them:
      e.g. the city's approval of a county's case is in the county's log too;
    - entries written by nobody (the worker, a failed login under an unknown name) about nothing
      that belongs to an office: the installation's own events, read by every office.
    An entry of another office's user about another office's object stays unseen."""
    from sqlalchemy import String, and_, cast, false, literal, or_

    from ..accounts.models import User
    from ..cases.models import Case
    from ..ledger.models import Unit
    from ..organisation import scope
    from ..organisation.models import Office, PartnerDepartment

    ids = scope.office_ids(user)
    if not ids:
        return false()
    users_of = select(User.id).where(or_(
        User.office_id.in_(ids),
        User.unit_id.in_(select(Unit.id).where(Unit.office_id.in_(ids))),
        User.partner_department_id.in_(select(PartnerDepartment.id).where(PartnerDepartment.office_id.in_(ids)))))
    # the objects an entry's target names ("unit:<code>", "case:<id>", "office:<code>", "user:<id>"),
    # with the column placing each in an office
    kinds = [(literal("unit:") + Unit.code, Unit.office_id), (literal("case:") + cast(Case.id, String), Case.office_id),
             (literal("office:") + Office.code, Office.id)]
    ours = [AuditEntry.target.in_(select(name).where(office.in_(ids))) for name, office in kinds]
    ours.append(AuditEntry.target.in_(users_of.with_only_columns(literal("user:") + cast(User.id, String))))
    anyones = [AuditEntry.target.in_(select(name)) for name, _office in kinds]
    anyones.append(AuditEntry.target.in_(select(literal("user:") + cast(User.id, String))))
    nobodys = and_(AuditEntry.user_id.is_(None), or_(AuditEntry.target.is_(None), ~or_(*anyones)))
    return or_(AuditEntry.user_id.in_(users_of), *ours, nobodys)
