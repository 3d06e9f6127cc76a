"""The audit log is a hash chain: an edited or deleted row is caught by audit-verify."""
import pytest
from sqlalchemy import select, text

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.audit.operations import verify
from bianzhi.extensions import db
from tests.fixtures.cases import approve_through, start


def test_decisions_logins_and_tokens_are_audited(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    approve_through(reviewer, leader, start(clerk))
    actions = [a for a in db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions.count("login") == 3 and actions.count("token.issue") == 3
    assert actions.count("case.start") == 1 and actions.count("task.complete") == 2
    assert verify().ok


@pytest.mark.commits  # the tampering goes through a connection of its own
def test_audit_verify_catches_an_edited_row(app, api, ctx):
    approve_through(api("reviewer1"), api("leader1"), start(api("clerk1")))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 0 and "审计日志完好" in result.output
    victim = db.session.scalars(select(AuditEntry.id).where(AuditEntry.action == "task.complete")).first()
    db.session.rollback()  # end this session's read (SQLite: its write lock) before tampering
    with db.engine.begin() as conn:  # someone with database access rewrites history
        conn.execute(text("UPDATE audit_log SET action = 'case.view' WHERE id = :id"), {"id": victim})
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 1
    assert f"第 {victim} 条的内容与哈希不符" in result.output


@pytest.mark.commits  # the tampering goes through a connection of its own
def test_audit_verify_catches_a_deleted_row(app, api, ctx):
    approve_through(api("reviewer1"), api("leader1"), start(api("clerk1")))
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 1 and f"第 {ids[3]} 条的前序哈希不符" in result.output


def test_views_of_people_and_downloads_are_audited(app, api, ctx):
    from tests.conftest import login
    from tests.fixtures.cases import CLERK1_UNIT
    clerk = api("clerk1")
    case = approve_through(api("reviewer1"), api("leader1"), start(clerk))
    url = clerk.get(f"/api/v1/cases/{case['id']}/notices").json[0]["url"]
    assert clerk.get(url).status_code == 200
    page = login(app.test_client(), "auditor1")
    assert page.get(f"/units/{CLERK1_UNIT}").status_code == 200
    db.session.rollback()
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "notice.download" in actions and "unit.roster.view" in actions
    assert verify().ok


# -- the keyed chain and its head: what someone with only database access can do is caught -------

def _tamper(statement, **params):
    db.session.rollback()  # end this session's read (SQLite: its write lock) before tampering
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit-verify"])


def _some_history(api):
    approve_through(api("reviewer1"), api("leader1"), start(api("clerk1")))
    return db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()


@pytest.mark.commits  # the head file follows real commits
def test_audit_verify_catches_the_newest_entries_deleted(app, api, ctx):
    ids = _some_history(api)
    assert _verify_cli(app).exit_code == 0
    _tamper("DELETE FROM audit_log WHERE id > :id", id=ids[-6])
    result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert f"第 {ids[-6]} 条之后的记录缺失" in result.output and f"第 {ids[-1]} 条" in result.output


@pytest.mark.commits  # the head file follows real commits
def test_audit_verify_catches_an_emptied_log(app, api, ctx):
    _some_history(api)
    _tamper("DELETE FROM audit_log")
    result = _verify_cli(app)
    assert result.exit_code == 1 and "日志已被清空" in result.output, result.output


def _rechain(rows, digest):
    """Every row's link and hash recomputed in order, as whoever rewrote them would."""
    prev = "0" * 64
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = digest(prev, row["at"], row["user_id"], row["action"], row["target"],
                                    row["detail"], row["ip"])
    with db.engine.begin() as conn:
        for row in rows:
            conn.execute(AuditEntry.__table__.update().where(AuditEntry.id == row["id"])
                         .values(prev_hash=row["prev_hash"], hash=row["hash"], action=row["action"]))


def _rows():
    table = AuditEntry.__table__
    rows = [dict(r._mapping) for r in db.session.execute(select(table).order_by(table.c.id))]
    db.session.rollback()
    return rows


@pytest.mark.commits  # the head file follows real commits
def test_audit_verify_catches_an_edit_with_every_later_hash_recomputed(app, api, ctx):
    import hashlib
    import hmac
    import json

    from bianzhi.audit.operations import _digest

    _some_history(api)
    rows = _rows()
    victim = next(r for r in rows if r["action"] == "task.complete")
    victim["action"] = "case.view"
    _rechain(rows, _digest)  # the algorithm is no secret: plain SHA-256 over the same content
    result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert "内容与哈希不符" in result.output or "签名不符" in result.output

    def guessed_key(prev, at, user_id, action, target, detail, ip):  # an HMAC under a key of their own
        body = json.dumps([prev, at.isoformat(timespec="microseconds"), user_id, action, target, detail, ip],
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(b"not the key", body.encode(), hashlib.sha256).hexdigest()

    _rechain(_rows(), guessed_key)
    result = _verify_cli(app)
    assert result.exit_code == 1 and f"第 {rows[0]['id']} 条的内容与哈希不符" in result.output, result.output


@pytest.mark.commits  # the head file follows real commits
def test_audit_verify_catches_a_forged_entry_appended(app, api, ctx):
    from bianzhi.audit.operations import _digest

    ids = _some_history(api)
    last = _rows()[-1]
    at = clock.now()
    forged = _digest(last["hash"], at, None, "login", "admin", {}, "10.0.0.1")
    with db.engine.begin() as conn:
        conn.execute(AuditEntry.__table__.insert().values(at=at, user_id=None, action="login", target="admin",
                                                          detail={}, ip="10.0.0.1", prev_hash=last["hash"],
                                                          hash=forged))
    result = _verify_cli(app)
    assert result.exit_code == 1, result.output
    assert f"第 {ids[-1] + 1} 条的内容与哈希不符" in result.output


@pytest.mark.commits  # the head file follows real commits
def test_entries_from_before_the_key_still_verify_and_the_keyed_chain_follows(app, ctx):
    from bianzhi.audit.operations import _digest, forget_head, read_head, record

    _tamper("DELETE FROM audit_log")
    forget_head()
    prev = "0" * 64
    with db.engine.begin() as conn:  # three entries as the unkeyed chain wrote them
        for n in range(3):
            at = clock.now()
            digest = _digest(prev, at, None, "login", f"old{n}", {}, None)
            conn.execute(AuditEntry.__table__.insert().values(at=at, action="login", target=f"old{n}", detail={},
                                                              prev_hash=prev, hash=digest))
            prev = digest
    assert verify().ok  # an upgraded installation: no head yet, old entries only
    record(None, "login", "new")
    db.session.commit()
    verdict = verify()
    assert verdict.ok and verdict.count == 4, verdict
    head = read_head()
    assert head["count"] == 4 and head["hmac"] == verdict.head
    # an old entry edited (and the old chain recomputed up to the keyed one) is still caught
    rows = _rows()
    rows[0]["action"] = "logout"
    _rechain(rows[:3], _digest)
    assert not verify().ok


@pytest.mark.commits  # the head file follows real commits
def test_the_head_follows_commits_only(app, ctx):
    from bianzhi.audit.operations import read_head, record

    record(None, "login", "kept")
    db.session.commit()
    head = read_head()
    kept = db.session.scalar(select(AuditEntry.id).where(AuditEntry.target == "kept"))
    assert head["id"] == kept
    record(None, "login", "rolled back")
    db.session.rollback()
    assert read_head() == head
    with db.session.begin_nested() as savepoint:  # an entry in a savepoint rolled back, another kept
        record(None, "login", "in a savepoint")
        savepoint.rollback()
    record(None, "login", "after the savepoint")
    db.session.commit()
    after = read_head()
    assert after["id"] == db.session.scalar(select(AuditEntry.id).where(AuditEntry.target == "after the savepoint"))
    assert after["count"] == head["count"] + 1
    assert verify().ok


def test_the_key_file_is_made_private_and_the_head_printed(app, tmp_path, monkeypatch):
    import os
    import stat

    from bianzhi.audit.operations import audit_key, read_head, record

    monkeypatch.setitem(app.config, "AUDIT_KEY", None)
    monkeypatch.setitem(app.config, "AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    with app.app_context():
        monkeypatch.delitem(app.extensions, "bianzhi.audit_key", raising=False)
        key = audit_key()
        assert len(key) == 64 and (tmp_path / "audit.key").read_bytes().strip() == key
        assert stat.S_IMODE(os.stat(tmp_path / "audit.key").st_mode) == 0o600
        monkeypatch.delitem(app.extensions, "bianzhi.audit_key")
        assert audit_key() == key  # read again, not made anew
        monkeypatch.delitem(app.extensions, "bianzhi.audit_key")
    with app.app_context():
        record(None, "login", "x")
        db.session.commit()
        head = read_head()
    result = app.test_cli_runner().invoke(args=["audit-head"])
    assert result.exit_code == 0
    assert f"共 {head['count']} 条，最新一条为第 {head['id']} 条，HMAC {head['hmac']}" in result.output


def test_a_damaged_head_file_is_reported(app, api, ctx):
    from bianzhi.audit.operations import head_file

    _some_history(api)
    head_file().write_text("")  # e.g. what a crash mid-write on some file systems leaves
    result = _verify_cli(app)
    assert result.exit_code == 1 and "链头文件" in result.output and "已损坏" in result.output, result.output
    assert app.test_cli_runner().invoke(args=["audit-head"]).exit_code == 1


def test_entries_added_as_objects_are_chained_and_signed_too(app, ctx):
    from bianzhi.audit.operations import read_head, record

    record(None, "login", "core before")
    db.session.add_all([AuditEntry(action="login", target="orm 1"), AuditEntry(action="login", target="orm 2")])
    db.session.flush()
    record(None, "login", "core after")
    db.session.add(AuditEntry(action="login", target="orm 3", detail={"n": 3}))
    db.session.commit()
    verdict = verify()
    assert verdict.ok, verdict
    newest = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert newest.target == "orm 3" and read_head()["id"] == newest.id and read_head()["hmac"] == newest.hash


def test_the_default_head_file_is_one_per_database(app, monkeypatch):
    from pathlib import Path

    from bianzhi.audit.operations import head_file

    monkeypatch.setitem(app.config, "AUDIT_HEAD_FILE", None)
    with app.app_context():
        here = head_file()
        monkeypatch.setitem(app.config, "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg://u:secret@db/bench")
        other = head_file()
    assert here.parent == other.parent == Path(app.instance_path) and here != other
    assert here.name.startswith("audit-") and here.suffix == ".head" and "secret" not in other.name
