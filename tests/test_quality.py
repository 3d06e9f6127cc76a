"""数据质量: "check now" opens a finding per wrong record, fixing the record and checking again
marks it fixed, nothing is duplicated; rules configured from a query; clerks see their unit's
findings; the CLI for cron."""
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.extensions import db
from bianzhi.ledger import retirement
from bianzhi.ledger.models import Establishment, Person, Unit
from bianzhi.organisation.models import Office
from bianzhi.queries.models import QualityFinding, QualityRule
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT
from tests.fixtures.race import race

ARCHIVES = CLERK2_UNIT  # 档案馆


def _in_keqiao():
    """People of the units of 柯桥区委编办: what a check by reviewer1 (or admin) covers."""
    office = select(Office.id).where(Office.code == "330603").scalar_subquery()
    return Person.unit_id.in_(select(Unit.id).where(Unit.office_id == office))


def _past_retirement(today):
    """Who the demo district (柯桥) has on roll past their retirement month, by the rule's own
    arithmetic."""
    out = set()
    for p in db.session.scalars(select(Person).where(Person.status == "on_roll", _in_keqiao())):
        ret = retirement.of_person(p)
        if (ret.year, ret.month) < (today.year, today.month):
            out.add(p.id)
    return out


def _spoil(app):
    """Five wrong records in 疾控中心 and one unit without establishment; returns their ids."""
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
        people = db.session.scalars(select(Person).where(Person.unit_id == unit.id).order_by(Person.id)).all()
        young = [p for p in people if p.birth_date.year > 1975]
        no_education, wrong_birth, minor, no_department, no_ethnicity = young[:5]
        no_education.education = None
        wrong_birth.birth_date += timedelta(days=1)
        minor.entry_date = date(minor.birth_date.year + 17, minor.birth_date.month, 1)
        no_department.department_id = None
        no_ethnicity.details = {}
        archives = db.session.scalar(select(Unit).where(Unit.code == ARCHIVES))
        for est in db.session.scalars(select(Establishment).where(Establishment.unit_id == archives.id)):
            db.session.delete(est)
        ids = {"Q01": no_education.id, "Q02": wrong_birth.id, "Q03": minor.id, "Q06": no_department.id,
               "Q07": no_ethnicity.id, "Q05": archives.id, "person": no_education.id}
        db.session.commit()
        return ids


def _open(app):
    with app.app_context():
        rows = db.session.execute(select(QualityRule.code, QualityFinding.entity_id)
                                  .join(QualityRule, QualityRule.id == QualityFinding.rule_id)
                                  .where(QualityFinding.status == "open")).all()
        db.session.rollback()
        return rows


def _check(client):
    response = client.post("/quality/check", data={"csrf_token": csrf_token(client, "/quality")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client.get("/quality").get_data(as_text=True)


def test_check_now_opens_fixes_and_never_duplicates(app):
    ids = _spoil(app)
    with app.app_context():
        retired = _past_retirement(clock.today())
        db.session.rollback()
    reviewer = login(app.test_client(), "reviewer1")
    html = _check(reviewer)
    opened = _open(app)
    expected = {(code, ids[code]) for code in ("Q01", "Q02", "Q03", "Q05", "Q06", "Q07")} | {
        ("Q04", pid) for pid in retired}
    assert sorted(opened) == sorted(expected)  # one finding each, nothing else
    assert f"新发现 {len(expected)} 条，已整改 0 条" in html
    assert "出生日期" in html and "身份证号为" in html  # Q02 names both dates
    assert "绍兴市柯桥区档案馆：单位没有核定编制" in html
    # the same check again: nothing new, nothing duplicated
    html = _check(reviewer)
    assert f"新发现 0 条，已整改 0 条，仍未整改 {len(expected)} 条" in html
    assert sorted(_open(app)) == sorted(expected)
    # fix two records; the next check marks exactly those fixed
    with app.app_context():
        db.session.get(Person, ids["Q01"]).education = "大学本科"
        db.session.get(Person, ids["Q07"]).details = {"ethnicity": "汉族"}
        db.session.commit()
    html = _check(reviewer)
    assert f"新发现 0 条，已整改 2 条，仍未整改 {len(expected) - 2} 条" in html
    assert sorted(_open(app)) == sorted(expected - {("Q01", ids["Q01"]), ("Q07", ids["Q07"])})
    with app.app_context():
        fixed = db.session.scalars(select(QualityFinding).where(QualityFinding.status == "fixed")).all()
        assert sorted(f.entity_id for f in fixed) == sorted([ids["Q01"], ids["Q07"]])
        assert all(f.fixed_at is not None and f.fixed_at >= f.found_at for f in fixed)
        # it breaks again: a new open finding beside the fixed one in the history
        db.session.get(Person, ids["Q01"]).education = ""
        db.session.commit()
    _check(reviewer)
    with app.app_context():
        rule = db.session.scalar(select(QualityRule).where(QualityRule.code == "Q01"))
        statuses = db.session.scalars(select(QualityFinding.status).where(QualityFinding.rule_id == rule.id)
                                      .order_by(QualityFinding.id)).all()
        assert statuses == ["fixed", "open"]
        checks = db.session.scalar(select(func.count()).select_from(AuditEntry)
                                   .where(AuditEntry.action == "quality.check"))
        assert checks == 4


def test_clerks_see_their_own_units_findings_and_cannot_check(app):
    ids = _spoil(app)
    _check(login(app.test_client(), "admin"))
    with app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
        retired = {pid for pid in _past_retirement(clock.today()) if db.session.get(Person, pid).unit_id == unit.id}
        code = db.session.get(Person, ids["Q01"]).code
        db.session.rollback()
    clerk1 = login(app.test_client(), "clerk1")
    html = clerk1.get("/quality").get_data(as_text=True)
    section = html[html.index('id="q-open"'):html.index('id="q-fixed"')]
    assert "疾病预防控制中心" in section and "档案馆" not in section
    # 5 wrong records of 疾控中心 (3 of them errors) and its people past retirement
    by_unit = section[section.index('id="q-by-unit"'):section.index("</table>")]
    assert f"<td>绍兴市柯桥区疾病预防控制中心</td><td>{5 + len(retired)}</td><td>3</td>" in by_unit
    assert f'href="/people/{code}"' in section  # a person's finding opens the person record
    clerk2 = login(app.test_client(), "clerk2").get("/quality").get_data(as_text=True)
    section = clerk2[clerk2.index('id="q-open"'):clerk2.index('id="q-fixed"')]
    assert "档案馆" in section and "疾病预防控制中心" not in section
    refused = clerk1.post("/quality/check", data={"csrf_token": csrf_token(clerk1, "/quality")})
    assert refused.status_code == 403
    auditor = login(app.test_client(), "auditor1")
    assert "档案馆" in auditor.get("/quality").get_data(as_text=True)
    assert auditor.post("/quality/check", data={"csrf_token": csrf_token(auditor, "/quality")}).status_code == 403


def test_a_rule_made_from_a_query_and_switched_off(app):
    reviewer = login(app.test_client(), "reviewer1")
    token = csrf_token(reviewer, "/quality")
    definition = {"op": "and", "items": [{"field": "person.status", "op": "eq", "value": "on_roll"},
                                         {"field": "person.post", "op": "eq", "value": "科员"},
                                         {"field": "person.age", "op": "gte", "value": 50}]}
    bad = reviewer.post("/quality/rules", data={"csrf_token": token, "name": "x", "target": "person",
                                                "definition": json.dumps({"op": "and", "items": [
                                                    {"field": "person.age", "op": "contains", "value": 5}]})})
    assert bad.status_code == 422 and "年龄（周岁）不能用“包含”" in bad.get_data(as_text=True)
    response = reviewer.post("/quality/rules", data={"csrf_token": token, "name": "年满 50 岁仍为科员",
                                                     "severity": "warning", "target": "person",
                                                     "definition": json.dumps(definition)})
    assert response.status_code == 302
    today = clock.today()
    with app.app_context():
        expected = {p.id for p in db.session.scalars(select(Person).where(Person.status == "on_roll",
                                                                         Person.post == "科员", _in_keqiao()))
                    if (today.year - p.birth_date.year - ((today.month, today.day)
                                                          < (p.birth_date.month, p.birth_date.day))) >= 50}
        db.session.rollback()
    assert expected
    _check(reviewer)
    assert {pid for code, pid in _open(app) if code == "R001"} == expected
    with app.app_context():
        rule_id = db.session.scalar(select(QualityRule.id).where(QualityRule.code == "R001"))
        db.session.rollback()
    off = reviewer.post("/quality/rules/manage", data={"csrf_token": token, "id": rule_id, "action": "deactivate"})
    assert off.status_code == 302
    html = reviewer.get("/quality").get_data(as_text=True)
    section = html[html.index('id="q-open"'):html.index('id="q-fixed"')]
    assert "年满 50 岁仍为科员" not in section  # a switched-off rule's findings are not listed
    leader = login(app.test_client(), "leader1")
    assert leader.post("/quality/rules", data={"csrf_token": csrf_token(leader, "/quality"), "name": "x",
                                               "target": "person", "definition": "{}"}).status_code == 403
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("quality.rule%"))).all()
        assert actions == ["quality.rule_create", "quality.rule_deactivate"]


def test_the_cli_check_for_cron(app):
    ids = _spoil(app)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["quality-check"])
    assert first.exit_code == 0, first.output
    assert "已按 7 条规则检查" in first.output
    again = runner.invoke(args=["quality-check"])
    assert "新发现 0 条，已整改 0 条" in again.output
    opened = _open(app)
    assert ("Q05", ids["Q05"]) in opened
    with app.app_context():  # the command's checks are audited like the page's (by the rule, not the view)
        rows = db.session.execute(select(AuditEntry.user_id, AuditEntry.detail)
                                  .where(AuditEntry.action == "quality.check").order_by(AuditEntry.id)).all()
        assert [(user_id, d["rules"], d["opened"]) for user_id, d in rows] == [(None, 7, len(opened)), (None, 7, 0)]


@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_checks_at_once_open_each_finding_once(app):
    ids = _spoil(app)
    clients = [login(app.test_client(), name) for name in ("reviewer1", "admin")]
    tokens = [csrf_token(client, "/quality") for client in clients]
    responses = race(*[lambda c=c, t=t: c.post("/quality/check", data={"csrf_token": t})
                       for c, t in zip(clients, tokens)])
    assert [r.status_code for r in responses] == [302, 302]
    opened = _open(app)
    assert len(opened) == len(set(opened)) and ("Q01", ids["Q01"]) in opened
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(QualityRule)) == 7  # seeded once
        details = db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "quality.check")).all()
        assert sorted(d["opened"] for d in details) == [0, len(opened)]  # the second found them open already
