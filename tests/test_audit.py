"""The audit log is a hash chain: an edited or deleted row is caught by audit-verify."""
import pytest
from sqlalchemy import select, text

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
