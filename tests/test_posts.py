"""中层核职 (midlevel_post) through the API and the pages: appointment and removal, section →
leader, return → resubmit, reject; refused above the approved mid-level count with the figures
in the message; every bad input with its own Chinese field message and the database
unchanged; two appointments racing for the last post give one approval and one 409."""
import re

import pytest
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.cases.models import Case, CaseStep, OpenTask
from bianzhi.extensions import db
from bianzhi.ledger.models import ChronicleEntry, Department, Person, PostQuota
from bianzhi.notices.models import Notice
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, decide, only_task
from tests.fixtures.people import people_of, person_named, unit_of
from tests.fixtures.race import race

DEPARTMENTS = "办公室、业务一科、业务二科、质量管理科"  # the demo's 事业单位 departments


# ---- helpers ---------------------------------------------------------------------------------


def quota(level, code=CLERK1_UNIT):
    """(approved, filled) of the unit's mid-level line of `level`."""
    db.session.expire_all()
    unit = unit_of(code)
    approved = db.session.scalar(select(PostQuota.approved).where(
        PostQuota.unit_id == unit.id, PostQuota.kind == "midlevel", PostQuota.level == level))
    filled = db.session.scalar(select(func.count()).select_from(Person).where(
        Person.unit_id == unit.id, Person.status == "on_roll", Person.midlevel_post == level))
    return approved, filled


def post_data(who, **overrides):
    data = {"unit": CLERK1_UNIT, "action": "appoint", "person": who.code, "department": "业务一科",
            "level": "副职", "doc_no": "柯疾控〔2026〕12号", "effective_date": clock.today().isoformat()}
    data.update(overrides)
    return data


def apply(clerk, data):
    return clerk.post("/api/v1/cases", json={"process": "midlevel_post", "data": data})


def start_post(clerk, who, **overrides):
    response = apply(clerk, post_data(who, **overrides))
    assert response.status_code == 201, response.json
    return response.json


def through(reviewer, leader, case):
    response = decide(reviewer, only_task(case))
    assert response.status_code == 200, response.json
    response = decide(leader, only_task(response.json))
    assert response.status_code == 200, response.json
    return response.json


def ledger_state():
    """Everything a refused application must leave as it was."""
    db.session.expire_all()
    counts = tuple(db.session.scalar(select(func.count()).select_from(m))
                   for m in (Case, CaseStep, OpenTask, ChronicleEntry, Notice, Person))
    people = db.session.execute(select(Person.code, Person.status, Person.midlevel_post, Person.department_id,
                                       Person.details).order_by(Person.code)).all()
    return counts, people


def refused(response, status=422):
    assert response.status_code == status, (response.status_code, response.json)
    return response.json["error"]


def fill_up(api, level):
    """Appoint people through the whole process until the line of `level` is full."""
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    approved, filled = quota(level)
    for who in people_of(holders=False)[:approved - filled]:
        assert through(reviewer, leader, start_post(clerk, who, level=level))["state"] == "completed"
    assert quota(level) == (approved, approved)
    return approved


# ---- the journey -----------------------------------------------------------------------------

def test_appointment_approved(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    who = people_of(holders=False)[0]
    approved, filled = quota("副职")
    assert {"key": "midlevel_post", "name": "中层核职", "version": 1} in clerk.get("/api/v1/processes").json
    case = start_post(clerk, who, notes="经党委会研究决定")
    assert re.fullmatch(r"ZCHZ-\d{4}-0001", case["number"]) and case["state"] == "running"
    assert [t["lane"] for t in case["tasks"]] == ["业务科室"]
    response = decide(reviewer, only_task(case), "approve", "符合职数")
    assert [t["name"] for t in response.json["tasks"]] == ["分管领导审核"]
    assert person_named(who.code).midlevel_post is None  # nothing before the leader approves
    response = decide(api("leader1"), only_task(response.json), "approve", "同意")
    assert response.status_code == 200, response.json
    done = response.json
    assert done["state"] == "completed" and done["tasks"] == []
    assert [h["decision"] for h in done["history"]] == ["submit", "approve", "approve"]

    now = person_named(who.code)
    assert (now.midlevel_post, now.department.name) == ("副职", "业务一科")
    assert now.details["midlevel_doc"] == "柯疾控〔2026〕12号"
    assert quota("副职") == (approved, filled + 1)
    entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"])).all()
    assert [(e.entity, e.action, e.entity_id) for e in entries] == [("post", "appoint", who.id)]
    assert entries[0].before["midlevel_post"] is None and entries[0].after["midlevel_post"] == "副职"
    assert (entries[0].before["filled"], entries[0].after["filled"]) == (filled, filled + 1)
    assert entries[0].user.username == "leader1" and case["number"] in entries[0].summary
    assert "柯疾控〔2026〕12号" in entries[0].summary

    notices = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [n["title"] for n in notices] == ["核职通知"]
    html = db.session.get(Notice, notices[0]["id"]).html
    for shown in (who.name, who.code, "任职", "业务一科中层副职", "柯疾控〔2026〕12号", "任免通知（任免文件）",
                  "干部任免审批表", f"核定 {approved} 名，已配 {filled + 1} 名"):
        assert shown in html, shown
    assert clerk.get(notices[0]["url"]).status_code == 200
    # the unit's establishment figures are untouched
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry).where(
        ChronicleEntry.delta.is_not(None))) == 0


def test_removal_approved(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    holder = people_of(holders=True)[0]
    level, department = holder.midlevel_post, holder.department.name
    approved, filled = quota(level)
    case = through(reviewer, leader, start_post(clerk, holder, action="remove", level=level, department=department))
    assert case["state"] == "completed"
    now = person_named(holder.code)
    assert (now.midlevel_post, now.department.name, now.status) == (None, department, "on_roll")
    assert quota(level) == (approved, filled - 1)
    entry = db.session.scalar(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"]))
    assert (entry.entity, entry.action) == ("post", "remove")
    assert entry.before["midlevel_post"] == level and entry.after["midlevel_post"] is None
    html = db.session.scalar(select(Notice.html).where(Notice.case_id == case["id"]))
    assert f"免去{holder.name}同志{department}中层{level}职务" in html


def test_return_by_leader_and_resubmit(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    who = people_of(holders=False)[0]
    case = start_post(clerk, who, level="正职")
    case = decide(reviewer, only_task(case)).json
    response = decide(leader, only_task(case), "return", "请改报副职，附干部任免审批表")
    assert response.status_code == 200
    case = response.json
    assert case["state"] == "running" and case["tasks"][0]["lane"] == "单位经办人"
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                          json={"data": post_data(who, level="副职", doc_no="柯疾控〔2026〕15号")})
    assert response.status_code == 200, response.json
    case = response.json
    assert case["data"]["level"] == "副职" and case["tasks"][0]["lane"] == "业务科室"
    assert [h["decision"] for h in case["history"]] == ["submit", "approve", "return", "submit"]
    assert case["history"][2]["opinion"] == "请改报副职，附干部任免审批表"
    assert through(reviewer, leader, case)["state"] == "completed"
    assert person_named(who.code).midlevel_post == "副职"


def test_return_by_section_and_reject_by_leader(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    who = people_of(holders=False)[0]
    case = start_post(clerk, who)
    case = decide(reviewer, only_task(case), "return", "任免文号有误").json
    assert case["tasks"][0]["lane"] == "单位经办人"
    case = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                      json={"data": post_data(who, doc_no="柯疾控〔2026〕13号")}).json
    case = decide(reviewer, only_task(case)).json
    state = ledger_state()
    response = decide(leader, only_task(case), "reject", "暂缓任职")
    assert response.status_code == 200 and response.json["state"] == "rejected"
    counts, people = ledger_state()
    assert people == state[1] and counts[3] == state[0][3]
    assert clerk.get(f"/api/v1/cases/{case['id']}/notices").json == []


def test_reject_by_section(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    who = people_of(holders=False)[0]
    case = start_post(clerk, who)
    response = decide(reviewer, only_task(case), "reject", "不符合任职条件")
    assert response.json["state"] == "rejected" and response.json["tasks"] == []
    assert person_named(who.code).midlevel_post is None


def test_withdrawn_case_changes_nothing_and_frees_the_person(api, ctx):
    clerk = api("clerk1")
    who = people_of(holders=False)[0]
    case = start_post(clerk, who)
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200 and response.json["state"] == "withdrawn"
    assert person_named(who.code).midlevel_post is None
    assert apply(clerk, post_data(who)).status_code == 201  # no longer a running case


# ---- bad input: each with its own field message, nothing written ------------------------------

def test_over_the_approved_count_is_refused_with_the_figures(api, ctx):
    clerk = api("clerk1")
    approved = fill_up(api, "正职")
    who = people_of(holders=False)[0]
    state = ledger_state()
    error = refused(apply(clerk, post_data(who, level="正职")))
    message = f"超职数：本单位核定中层正职 {approved} 名，已配 {approved} 名，本次任职 1 名"
    assert error["message"] == message and error["fields"] == {"level": [message]}
    assert ledger_state() == state
    # removal is always possible, and frees the post for the next appointment
    holder = people_of(holders=True)
    holder = next(p for p in holder if p.midlevel_post == "正职")
    assert apply(clerk, post_data(holder, action="remove", level="正职",
                                  department=holder.department.name)).status_code == 201


def _holder():
    return people_of(holders=True)[0]


def _other():
    return people_of(CLERK2_UNIT)[0]


BAD = {
    "unknown person": (lambda p: {"person": "BZ0000000000"},
                       lambda p: {"person": ["找不到编码为 BZ0000000000 的人员"]}),
    "person of another unit": (lambda p: {"person": _other().code},
                               lambda p: {"person": [f"编码 {_other().code} 不是本单位在编人员"]}),
    "department the unit does not have": (
        lambda p: {"department": "宣传科"},
        lambda p: {"department": [f"本单位没有内设机构「宣传科」；本单位内设机构：{DEPARTMENTS}"]}),
    "appointing a holder": (
        lambda p: {"person": _holder().code, "level": "副职"},
        lambda p: {"person": [f"{_holder().name}（{_holder().code}）已任{_holder().department.name}中层"
                              f"{_holder().midlevel_post}，须先免去现职再任新职"]}),
    "removing someone who holds no post": (
        lambda p: {"action": "remove"},
        lambda p: {"person": [f"{p.name}（{p.code}）未任业务一科中层副职（现未任中层职务），不能免职"]}),
    "removing from a post not held": (
        lambda p: {"action": "remove", "person": _holder().code,
                   "department": next(d for d in DEPARTMENTS.split("、") if d != _holder().department.name),
                   "level": _holder().midlevel_post},
        lambda p: {"person": [
            f"{_holder().name}（{_holder().code}）未任"
            f"{next(d for d in DEPARTMENTS.split('、') if d != _holder().department.name)}中层{_holder().midlevel_post}"
            f"（现任{_holder().department.name}中层{_holder().midlevel_post}），不能免职"]}),
    "unknown level": (lambda p: {"level": "主任"}, lambda p: {"level": ["请选择有效的选项：中层正职、中层副职"]}),
    "unknown action": (lambda p: {"action": "promote"}, lambda p: {"action": ["请选择有效的选项：任职、免职"]}),
    "no document number": (lambda p: {"doc_no": ""}, lambda p: {"doc_no": ["必填"]}),
    "no department": (lambda p: {"department": ""}, lambda p: {"department": ["必填"]}),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_application(api, ctx, what):
    clerk = api("clerk1")
    who = people_of(holders=False)[0]
    overrides, expected = BAD[what]
    data = post_data(who, **overrides(who))
    want = expected(who)
    state = ledger_state()
    error = refused(apply(clerk, data))
    assert error["fields"] == want
    assert ledger_state() == state


def test_another_units_person_is_not_revealed(api, ctx):
    other = _other()
    error = refused(apply(api("clerk1"), post_data(other)))
    text = str(error)
    assert other.name not in text and "档案馆" not in text


def test_person_who_left_cannot_take_a_post(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    who = people_of(holders=False)[0]
    exit_case = clerk.post("/api/v1/cases", json={"process": "staff_exit", "data": {
        "unit": CLERK1_UNIT, "person": who.code, "reason": "退休", "exit_date": clock.today().isoformat()}}).json
    decide(reviewer, only_task(exit_case))
    state = ledger_state()
    error = refused(apply(clerk, post_data(who)))
    assert error["fields"] == {"person": [
        f"{who.name}（{who.code}）已于 {clock.today().isoformat()} 出编（{exit_case['number']}），不在编"]}
    assert ledger_state() == state


def test_second_running_case_for_the_same_person(api, ctx):
    clerk = api("clerk1")
    who = people_of(holders=False)[0]
    first = start_post(clerk, who)
    state = ledger_state()
    error = refused(apply(clerk, post_data(who, level="正职")))
    assert error["fields"] == {"person": [
        f"{who.name}（{who.code}）已有在办的中层核职申请 {first['number']}，不能重复申请"]}
    assert ledger_state() == state


def test_application_for_another_unit_is_forbidden(api, ctx):
    who = people_of(holders=False)[0]
    state = ledger_state()
    error = refused(apply(api("clerk1"), post_data(who, unit=CLERK2_UNIT)), 403)
    assert error["fields"] == {"unit": ["只能为本单位（绍兴市柯桥区疾病预防控制中心，12330621B01000000X）申请"]}
    assert ledger_state() == state


# ---- the operation checks again under a row lock ----------------------------------------------

@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_appointments_race_for_the_last_post(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    approved, filled = quota("正职")
    assert approved - filled >= 1
    fill_up_to_one_left = approved - filled - 1
    if fill_up_to_one_left:
        leader = api("leader1")
        for who in people_of(holders=False)[:fill_up_to_one_left]:
            through(reviewer, leader, start_post(clerk, who, level="正职"))
    a, b = people_of(holders=False)[:2]
    tasks = []
    for who in (a, b):  # both pass the advisory check: one post is still free
        case = start_post(clerk, who, level="正职", department="业务二科")
        tasks.append((case["id"], only_task(decide(reviewer, only_task(case)).json)))
    leader_a, leader_b = api("leader1"), api("leader1")
    responses = race(lambda: decide(leader_a, tasks[0][1]), lambda: decide(leader_b, tasks[1][1]))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.json for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert winner["state"] == "completed"
    assert loser["code"] == "over_posts"
    assert loser["message"] == f"超职数：本单位核定中层正职 {approved} 名，已配 {approved} 名，本次任职 1 名"
    assert quota("正职") == (approved, approved)  # never over
    lost_id = next(cid for cid, _ in tasks if cid != winner["id"])
    lost = clerk.get(f"/api/v1/cases/{lost_id}").json
    assert lost["state"] == "running" and [t["name"] for t in lost["tasks"]] == ["分管领导审核"]
    assert [h["decision"] for h in lost["history"]] == ["submit", "approve"]
    lost_person = person_named(lost["data"]["person"])
    assert lost_person.midlevel_post is None
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry).where(
        ChronicleEntry.case_id == lost_id)) == 0


@pytest.mark.commits  # racing threads, each on a connection of its own
def test_appointing_the_same_person_twice_at_once(api, ctx, monkeypatch):
    """Two applications for one person that passed the advisory check together (simulated by
    switching off the running-case look-up): the person row lock lets only one through."""
    clerk, reviewer = api("clerk1"), api("reviewer1")
    who = people_of(holders=False)[0]
    monkeypatch.setattr("bianzhi.ledger.posts.running_case_for", lambda *args, **kwargs: None)
    cases = [start_post(clerk, who, level="正职"), start_post(clerk, who, level="副职")]
    monkeypatch.undo()
    tasks = [only_task(decide(reviewer, only_task(c)).json) for c in cases]
    leader_a, leader_b = api("leader1"), api("leader1")
    responses = race(lambda: decide(leader_a, tasks[0]), lambda: decide(leader_b, tasks[1]))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.json for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert loser["code"] == "post_held" and loser["message"].startswith(f"{who.name}（{who.code}）已任")
    assert person_named(who.code).midlevel_post in ("正职", "副职")
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry).where(
        ChronicleEntry.entity == "post")) == 1


# ---- the page ----------------------------------------------------------------------------------

def test_start_appointment_through_the_page(app, ctx):
    clerk = login(app.test_client(), "clerk1")
    page = clerk.get("/window/start/midlevel_post")
    assert page.status_code == 200
    html = page.get_data(as_text=True)

    def options(name):
        block = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option value="([^"]+)"', block)

    unit = unit_of()
    roll = set(db.session.scalars(select(Person.code).where(Person.unit_id == unit.id, Person.status == "on_roll")))
    assert set(options("person")) == roll
    assert not set(options("person")) & {p.code for p in people_of(CLERK2_UNIT)}
    assert options("department") == list(db.session.scalars(
        select(Department.name).where(Department.unit_id == unit.id).order_by(Department.id)))
    assert options("level") == ["正职", "副职"]
    assert 'name="action" value="appoint"' in html

    who = people_of(holders=False)[0]
    form = {"csrf_token": csrf_token(clerk, "/window/start/midlevel_post"), "action": "appoint",
            "person": who.code, "department": "质量管理科", "level": "副职", "doc_no": "柯疾控〔2026〕20号",
            "effective_date": clock.today().isoformat()}
    response = clerk.post("/window/start/midlevel_post", data=form, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    case_id = int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case.process_key == "midlevel_post" and case.unit.code == CLERK1_UNIT
    assert {k: case.data[k] for k in ("action", "person", "department", "level")} == {
        "action": "appoint", "person": who.code, "department": "质量管理科", "level": "副职"}

    # a bad choice comes back under its field, nothing written
    state = ledger_state()
    form.update(csrf_token=csrf_token(clerk, "/window/start/midlevel_post"), person=_holder().code)
    response = clerk.post("/window/start/midlevel_post", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "须先免去现职再任新职" in response.get_data(as_text=True)
    assert ledger_state() == state

