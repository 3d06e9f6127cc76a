"""The flask commands a deployment uses: init-db, deploy, demo, create-user."""
import pytest
from sqlalchemy import func, select

from bianzhi.accounts.models import User
from bianzhi.extensions import db
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import Unit
from tests.conftest import PASSWORD


def test_demo_district_is_complete_and_idempotent(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--password", PASSWORD])
    assert result.exit_code == 0 and "演示数据已存在" in result.output
    users = {u.username: u for u in db.session.scalars(select(User))}
    assert {"clerk1", "clerk2", "reviewer1", "leader1", "admin", "auditor1"} <= set(users)
    assert {r for u in users.values() for r in u.roles} == {
        "unit_clerk", "reviewer", "leader", "process_owner", "admin", "auditor", "finance", "partner"}
    # the organisation: the names other systems and checks rely on (issue 15)
    assert {"city_reviewer1", "city_leader1", "clerk_b1", "reviewer_b1", "leader_b1", "zzb1", "rsj1", "czj1"} <= set(users)
    offices = {u.username: u.home_office_id for u in users.values() if u.username != "system"}
    assert None not in offices.values()
    assert offices["clerk1"] == offices["reviewer1"] == offices["zzb1"] != offices["clerk_b1"] == offices["reviewer_b1"]
    assert offices["city_reviewer1"] not in (offices["clerk1"], offices["clerk_b1"])
    assert {u.partner_department.code for u in users.values() if u.has_role("partner")} == {"zzb", "rsj", "czj"}
    assert db.session.scalar(select(func.count()).select_from(Unit).where(
        (Unit.office_id.is_(None)) | (Unit.section_id.is_(None)))) == 0
    jg = set(users["reviewer1"].section_ids("reviewer"))
    assert users["clerk1"].unit.section_id in jg and users["clerk2"].unit.section_id not in jg
    assert users["clerk2"].unit.section_id in users["reviewer2"].section_ids("reviewer")
    assert set(users["leader1"].section_ids("leader")) == {users["clerk1"].unit.section_id, users["clerk2"].unit.section_id}
    assert users["clerk1"].unit_id != users["clerk2"].unit_id
    figures = ledger.figures(users["clerk1"].unit)
    assert next(f for f in figures if f["category"] == "事业编制")["vacancy"] >= 3
    warnings = {f["warning"] for u in {u.unit for u in users.values() if u.unit} for f in ledger.figures(u)}
    assert "red" in warnings  # the demo shows an over-establishment unit too


def test_deploy_reports_unchanged(app):
    result = app.test_cli_runner().invoke(args=["deploy"])
    assert result.exit_code == 0 and "vacancy_use v1 无变化" in result.output


def test_create_user(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "clerk9", "--password", "secret99", "--role", "unit_clerk",
                                 "--unit", "12330621B02000000X", "--name", "新经办人"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "clerk9"))
    assert user.roles == ["unit_clerk"] and user.unit.code == "12330621B02000000X" and user.check_password("secret99")
    result = runner.invoke(args=["create-user", "clerk9", "--password", "123", "--role", "wizard"])
    assert result.exit_code == 1
    assert "用户名 clerk9 已存在" in result.output and "密码至少 8 位" in result.output and "未知角色" in result.output
    result = runner.invoke(args=["create-user", "clerk10", "--password", "secret99", "--role", "unit_clerk"])
    assert result.exit_code == 1 and "单位经办人必须属于一个单位" in result.output


def test_demo_cases_cover_every_state(app, ctx):
    from bianzhi.cases.models import Case
    from bianzhi.demo_cases import load_cases

    load_cases()
    db.session.commit()
    states = {(c.process_key, c.state) for c in db.session.scalars(select(Case))}
    for state in ("running", "approved", "completed", "rejected", "withdrawn"):
        assert ("vacancy_use", state) in states, states
    for process, state in [("annual_plan", "approved"), ("annual_plan", "running"), ("extra_plan", "running"),
                           ("temp_staff", "approved"), ("temp_staff", "completed"), ("staff_exit", "completed"),
                           ("staff_exit", "running"), ("staff_exit", "rejected"), ("midlevel_post", "completed"),
                           ("midlevel_post", "running"), ("annual_review", "running")]:
        assert (process, state) in states, states
    from bianzhi.ledger.reconcile import reconcile
    # 柯桥's finance bureau reported its units (越城's, which reported nothing, are findings of their own)
    finance = [(f.unit_name, f.item, f.cause) for f in reconcile()
               if f.check == "finance_establishment" and "柯桥区" in f.unit_name]
    assert len(finance) == 1 and finance[0][0] == "绍兴市柯桥区人民医院", finance


@pytest.mark.commits  # reads the schema through a connection of its own
def test_the_models_and_the_migrations_describe_the_same_schema(app):
    """A model changed without regenerating (or, after the first release, without a revision)
    fails here rather than on a deployed database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bianzhi.documents.models import include_object
    from bianzhi.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object,
                                                               "compare_type": False})
        diff = compare_metadata(context, db.metadata)
        if connection.dialect.name == "sqlite":  # see revision 7c3a9e1f2b64: SQLite could not drop them again
            diff = [d for d in diff if not (d[0] == "add_fk" and (d[1].parent.name, d[1].column_keys[0])
                                            in SQLITE_MODEL_ONLY_REFERENCES)]
        assert diff == []


# columns added to existing tables whose foreign key is declared by the models only on SQLite
SQLITE_MODEL_ONLY_REFERENCES = {
    ("users", "office_id"), ("users", "partner_department_id"), ("units", "office_id"), ("units", "section_id"),
    ("cases", "office_id"), ("open_tasks", "office_id"), ("open_tasks", "section_id"),
    ("open_tasks", "partner_department_id"),
}
