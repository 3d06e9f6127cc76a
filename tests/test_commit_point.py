"""One commit point per request (web/transaction.py): a success commits, an error status or a
refused attempt rolls back, a failed commit becomes 409, a failed login is kept."""
import pytest
from flask import Blueprint, Response, jsonify, redirect, render_template, stream_with_context
from sqlalchemy import func, select

from bianzhi import create_app
from bianzhi.accounts.models import User
from bianzhi.audit.models import AuditEntry
from bianzhi.audit.operations import record
from bianzhi.errors import ValidationFailed
from bianzhi.extensions import csrf, db
from bianzhi.web.transaction import commit_before_error, refused

from .conftest import PASSWORD, csrf_token

# a second app with its own engine on the same database: it must see, and may write, real commits
pytestmark = pytest.mark.commits


def _probe_routes():
    bp = Blueprint("probe", __name__)
    csrf.exempt(bp)

    @bp.get("/probe/ok")
    def ok():
        record(None, "probe.ok")
        return jsonify({"done": True})

    @bp.post("/probe/redirect")
    def after_post():
        record(None, "probe.redirect")
        return redirect("/probe/ok")

    @bp.get("/probe/form-again")
    def form_again():
        record(None, "probe.form_again")
        return render_template("error.html", status=422, message="请按提示修改", fields={}), 422

    @bp.get("/probe/refused")
    def refused_then_redirect():
        try:
            record(None, "probe.refused")
            raise ValidationFailed("不行")
        except ValidationFailed as exc:
            refused(exc)
        return redirect("/probe/ok")

    @bp.get("/probe/raises")
    def raises():
        record(None, "probe.raises")
        raise ValidationFailed("不行", fields={"x": ["必填"]})

    @bp.get("/probe/kept")
    def kept():
        record(None, "probe.kept")
        commit_before_error()
        raise ValidationFailed("不行")

    @bp.get("/probe/duplicate.json")
    def duplicate():
        db.session.add(User(username="admin", display_name="重名", password_hash="x"))
        return jsonify({"done": True})

    @bp.get("/probe/stream")
    def stream():
        record(None, "probe.stream")

        def body():
            yield str(db.session.scalar(select(func.count()).select_from(User)))
        return Response(stream_with_context(body()), mimetype="text/plain")

    return bp


@pytest.fixture(scope="module")
def probe_app(app):
    """A second app on the same database with a few routes that write and answer in each way."""
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SERVER_NAME": "localhost"})
    other.register_blueprint(_probe_routes())
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _count(app, action):
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
        finally:
            db.session.remove()


def test_a_success_commits_without_the_view_committing(probe_app):
    client = probe_app.test_client()
    assert client.get("/probe/ok").status_code == 200
    assert _count(probe_app, "probe.ok") == 1
    assert client.post("/probe/redirect").status_code == 302  # a redirect after a POST is a success
    assert _count(probe_app, "probe.redirect") == 1


def test_an_error_status_rolls_back(probe_app):
    client = probe_app.test_client()
    assert client.get("/probe/form-again").status_code == 422
    assert _count(probe_app, "probe.form_again") == 0
    answer = client.get("/probe/raises")
    assert answer.status_code == 422 and "不行" in answer.get_data(as_text=True)
    assert _count(probe_app, "probe.raises") == 0


def test_a_refused_attempt_is_not_committed_by_its_redirect(probe_app):
    assert probe_app.test_client().get("/probe/refused").status_code == 302
    assert _count(probe_app, "probe.refused") == 0


def test_a_refusal_does_not_outlive_its_request(probe_app):
    """Requests made inside one app context (as tests and commands do) share `g`: a refusal in
    one must not keep the next from committing."""
    client = probe_app.test_client()
    with probe_app.app_context():
        assert client.get("/probe/refused").status_code == 302
        assert client.get("/probe/ok").status_code == 200
        db.session.remove()
    assert _count(probe_app, "probe.ok") == 1


def test_commit_before_error_keeps_what_was_done(probe_app):
    assert probe_app.test_client().get("/probe/kept").status_code == 422
    assert _count(probe_app, "probe.kept") == 1


def test_a_constraint_race_at_the_commit_is_a_409(probe_app):
    answer = probe_app.test_client().get("/probe/duplicate.json")
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "conflict" and "同时修改" in answer.json["error"]["message"]
    with probe_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "admin")) == 1
        db.session.remove()


def test_a_streamed_answer_commits_its_audit_entry_before_the_body(probe_app):
    answer = probe_app.test_client().get("/probe/stream")
    assert answer.status_code == 200 and int(answer.get_data(as_text=True)) > 0
    assert _count(probe_app, "probe.stream") == 1


def test_a_failed_login_is_kept_although_the_answer_is_an_error(app, client):
    token = csrf_token(client, "/login")
    answer = client.post("/login", data={"username": "clerk1", "password": "wrong", "csrf_token": token})
    assert answer.status_code >= 400
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "clerk1"))
        assert user.failed_logins == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "login.failed")) == 1
        db.session.remove()
    answer = client.post("/api/v1/tokens", json={"username": "clerk1", "password": "wrong"})
    assert answer.status_code >= 400
    with app.app_context():
        assert db.session.scalar(select(User.failed_logins).where(User.username == "clerk1")) == 2
        db.session.remove()
    assert PASSWORD  # the right password still works afterwards
    assert client.post("/api/v1/tokens", json={"username": "clerk1", "password": PASSWORD}).status_code == 201


def test_register_changes_are_audited_by_the_rule_whoever_calls_it(app):
    """A command, an import or a case's decision calls the ledger rules without a view: the audit
    entry of the change is written by the rule itself, once."""
    from datetime import date

    from bianzhi.ledger import establishment
    from bianzhi.ledger import units as lifecycle
    from bianzhi.ledger.models import Unit

    from .fixtures.cases import CLERK1_UNIT, CLERK2_UNIT

    def approval(n):
        return lifecycle.Approval(number=f"绍柯编〔2026〕{n}号", issued_on=date(2026, 11, 2), title="批复")

    with app.app_context():
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        b01 = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
        b02 = db.session.scalar(select(Unit).where(Unit.code == CLERK2_UNIT))
        establishment.adjust_establishment(reviewer, b01, "事业编制", 45, approval(61))
        establishment.transfer_establishment(reviewer, b01, b02, "事业编制", 2, approval(62))
        lifecycle.rename_unit(reviewer, b02, "绍兴市柯桥区档案馆（区方志办）", approval(63))
        establishment.add_department(reviewer, b02, "方志科", approval(64))
        db.session.commit()
        rows = db.session.execute(select(AuditEntry.action, AuditEntry.target, AuditEntry.detail)
                                  .where(AuditEntry.action.like("unit.%")).order_by(AuditEntry.id)).all()
        assert [(a, t, d["document"]) for a, t, d in rows] == [
            ("unit.establishment", f"unit:{CLERK1_UNIT}", "绍柯编〔2026〕61号"),
            ("unit.transfer", f"unit:{CLERK1_UNIT}", "绍柯编〔2026〕62号"),
            ("unit.rename", f"unit:{CLERK2_UNIT}", "绍柯编〔2026〕63号"),
            ("unit.departments", f"unit:{CLERK2_UNIT}", "绍柯编〔2026〕64号")]
        assert rows[1].detail["to"] == CLERK2_UNIT and rows[1].detail["count"] == 2
        db.session.remove()
