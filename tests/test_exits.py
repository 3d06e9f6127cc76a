"""出编 (staff_exit) through the API and the pages: the person moves to the left register and
is never deleted, the place is freed, a mid-level post is cleared, late filings are flagged,
every bad input gets its own Chinese field message with the database unchanged, and two
approvals exiting the same person give one exit and one 409."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.cases.models import Case, CaseStep, OpenTask
from bianzhi.extensions import db
from bianzhi.ledger import exits
from bianzhi.ledger.history import figures_as_of
from bianzhi.ledger.models import ChronicleEntry, Person
from bianzhi.ledger.operations import post_figures
from bianzhi.ledger.policy import setting
from bianzhi.notices.models import Notice
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, decide, only_task
from tests.fixtures.people import people_of, person_named, unit_of
from tests.fixtures.race import race


# ---- helpers ---------------------------------------------------------------------------------


def exit_data(who, **overrides):
    data = {"unit": CLERK1_UNIT, "person": who.code, "reason": "退休",
            "exit_date": clock.today().isoformat(), "notes": "已办理退休手续"}
    data.update(overrides)
    return data


def apply(clerk, data):
    return clerk.post("/api/v1/cases", json={"process": "staff_exit", "data": data})


def start_exit(clerk, who, **overrides):
    response = apply(clerk, exit_data(who, **overrides))
    assert response.status_code == 201, response.json
    return response.json


def figures(api_user, unit=CLERK1_UNIT, category="事业编制"):
    return next(f for f in api_user.get(f"/api/v1/units/{unit}/establishment").json if f["category"] == category)


def ledger_state(unit=CLERK1_UNIT):
    """Everything a refused application must leave as it was."""
    db.session.expire_all()
    counts = tuple(db.session.scalar(select(func.count()).select_from(m))
                   for m in (Case, CaseStep, OpenTask, ChronicleEntry, Notice, Person))
    people = db.session.execute(select(Person.code, Person.status, Person.midlevel_post, Person.department_id,
                                       Person.left_date, Person.exit_case_id).order_by(Person.code)).all()
    return counts, people


def refused(response, status=422):
    assert response.status_code == status, (response.status_code, response.json)
    return response.json["error"]


# ---- the journey -----------------------------------------------------------------------------

def test_approved_exit_moves_person_to_left_register_and_frees_the_place(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=False)[0]
    total = db.session.scalar(select(func.count()).select_from(Person))
    before = figures(clerk)
    assert {"key": "staff_exit", "name": "出编", "version": 1} in clerk.get("/api/v1/processes").json

    case = start_exit(clerk, person, reason="调出", destination="绍兴市柯桥区人民医院")
    assert re.fullmatch(r"CB-\d{4}-0001", case["number"]) and case["state"] == "running"
    assert [t["name"] for t in case["tasks"]] == ["业务科室审核"] and case["tasks"][0]["lane"] == "业务科室"
    assert [t["case_id"] for t in reviewer.get("/api/v1/tasks").json] == [case["id"]]
    assert figures(clerk) == before  # nothing changes before approval

    response = decide(reviewer, only_task(case), "approve", "材料齐全，同意出编")
    assert response.status_code == 200, response.json
    done = response.json
    assert done["state"] == "completed" and done["tasks"] == []
    assert [(h["step"], h["decision"]) for h in done["history"]] == [("填写出编申请", "submit"),
                                                                     ("业务科室审核", "approve")]
    left = person_named(person.code)
    assert (left.status, left.left_date, left.left_reason, left.exit_case_id, left.exit_late) == (
        "left", clock.today(), "调出", case["id"], False)
    assert left.details["exit_destination"] == "绍兴市柯桥区人民医院"
    assert db.session.scalar(select(func.count()).select_from(Person)) == total  # kept, never deleted
    after = figures(clerk)
    assert (after["on_roll"], after["vacancy"]) == (before["on_roll"] - 1, before["vacancy"] + 1)

    entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"])).all()
    assert [(e.entity, e.action, e.entity_id) for e in entries] == [("person", "exit", person.id)]
    assert entries[0].delta == {"category": "事业编制", "on_roll": -1}
    assert entries[0].before["status"] == "on_roll" and entries[0].after["status"] == "left"
    assert entries[0].user.username == "reviewer1" and case["number"] in entries[0].summary

    notices = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [n["title"] for n in notices] == ["出编审核表"]
    html = db.session.get(Notice, notices[0]["id"]).html
    for shown in (person.name, person.code, "调出", "绍兴市柯桥区人民医院", "介绍信或调令（调出的）",
                  "死亡证明（死亡的）", "按时申报", case["number"]):
        assert shown in html, shown
    assert clerk.get(notices[0]["url"]).status_code == 200  # the PDF renders


def test_exit_clears_the_mid_level_post_with_its_own_chronicle_entry(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    holder = people_of(holders=True)[0]
    level, department = holder.midlevel_post, holder.department.name
    unit = unit_of(CLERK1_UNIT)
    filled = {(f["kind"], f["level"]): f["filled"] for f in post_figures(unit)}
    case = start_exit(clerk, holder)
    before, moment = figures(clerk), clock.now()
    assert decide(reviewer, only_task(case)).status_code == 200
    left = person_named(holder.code)
    assert (left.status, left.midlevel_post, left.department.name) == ("left", None, department)
    entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"])
                                 .order_by(ChronicleEntry.id)).all()
    assert [(e.entity, e.action) for e in entries] == [("post", "remove"), ("person", "exit")]
    assert entries[0].before["midlevel_post"] == level and entries[0].after["midlevel_post"] is None
    assert entries[0].delta is None  # posts are not establishment figures
    now = {(f["kind"], f["level"]): f["filled"] for f in post_figures(unit)}
    assert now[("midlevel", level)] == filled[("midlevel", level)] - 1
    # the chronicle replays the ledger as it stood before the exit (the post entry carries no delta)
    db.session.expire_all()
    assert [f for f in figures_as_of(unit, moment) if f["category"] == "事业编制"] == [before]


def test_return_for_correction_and_resubmit(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=False)[0]
    case = start_exit(clerk, person, reason="辞职")
    response = decide(reviewer, only_task(case), "return", "请补充辞职审批表，出编时间有误")
    assert response.status_code == 200, response.json
    case = response.json
    assert case["state"] == "running" and case["tasks"][0]["lane"] == "单位经办人"
    assert person_named(person.code).status == "on_roll"
    # the same checks apply to the resubmission
    bad = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                     json={"data": exit_data(person, exit_date=(person.entry_date - timedelta(days=1)).isoformat())})
    assert refused(bad)["fields"] == {"exit_date": [f"出编时间不能早于该人员入编时间 {person.entry_date.isoformat()}"]}
    corrected = (clock.today() - timedelta(days=3)).isoformat()
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                          json={"data": exit_data(person, reason="辞职", exit_date=corrected)})
    assert response.status_code == 200, response.json
    case = response.json
    assert case["data"]["exit_date"] == corrected and case["tasks"][0]["lane"] == "业务科室"
    assert [h["decision"] for h in case["history"]] == ["submit", "return", "submit"]
    assert case["history"][1]["opinion"] == "请补充辞职审批表，出编时间有误"
    done = decide(reviewer, only_task(case)).json
    assert done["state"] == "completed"
    assert person_named(person.code).left_date == date.fromisoformat(corrected)


def test_reject_changes_nothing(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=True)[0]
    case = start_exit(clerk, person)
    state = ledger_state()
    response = decide(reviewer, only_task(case), "reject", "不符合出编条件")
    assert response.status_code == 200
    assert response.json["state"] == "rejected" and response.json["tasks"] == []
    counts, people = ledger_state()
    assert people == state[1] and counts[3] == state[0][3]  # no person, post or chronicle change
    assert clerk.get(f"/api/v1/cases/{case['id']}/notices").json == []
    # a rejected case does not block a new application
    assert apply(clerk, exit_data(person)).status_code == 201


def test_withdrawn_case_changes_nothing_and_frees_the_person(api, ctx):
    clerk = api("clerk1")
    person = people_of(holders=False)[0]
    case = start_exit(clerk, person)
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200 and response.json["state"] == "withdrawn"
    assert person_named(person.code).status == "on_roll"
    assert apply(clerk, exit_data(person)).status_code == 201  # no longer a running case


def test_late_filing_is_flagged(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=False)[0]
    exit_date = clock.today() - timedelta(days=60)  # far more than 15 working days ago
    late_by = exits.workdays_late(exit_date, clock.today())
    assert late_by > 0
    case = start_exit(clerk, person, exit_date=exit_date.isoformat())
    decide(reviewer, only_task(case))
    left = person_named(person.code)
    assert left.exit_late is True and left.left_date == exit_date
    entry = db.session.scalar(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"]))
    assert entry.summary.endswith(f"逾期申报 {late_by} 个工作日") and entry.after["exit_late"] is True
    notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
    assert f"超过 {setting('EXIT_DEADLINE_WORKDAYS')} 个工作日时限 {late_by} 个工作日" in notice.html


def test_exit_may_be_filed_ahead_up_to_the_limit(api, ctx):
    clerk = api("clerk1")
    person = people_of(holders=False)[0]
    limit = setting("EXIT_FUTURE_LIMIT_DAYS")
    assert apply(clerk, exit_data(person, exit_date=(clock.today() + timedelta(days=limit)).isoformat())
                 ).status_code == 201


# ---- bad input: each with its own field message, nothing written ------------------------------

def _other_unit_person():
    return people_of(CLERK2_UNIT)[0]


BAD = {
    "unknown person": (lambda p: {"person": "BZ0000000000"},
                       lambda p: {"person": ["找不到编码为 BZ0000000000 的人员"]}),
    "person of another unit": (lambda p: {"person": _other_unit_person().code},
                               lambda p: {"person": [f"编码 {_other_unit_person().code} 不是本单位在编人员"]}),
    "exit date beyond the future limit": (
        lambda p: {"exit_date": (clock.today() + timedelta(days=setting("EXIT_FUTURE_LIMIT_DAYS") + 1)).isoformat()},
        lambda p: {"exit_date": [f"出编时间最多只能提前 {setting('EXIT_FUTURE_LIMIT_DAYS')} 天申报，不能晚于 "
                                 f"{(clock.today() + timedelta(days=setting('EXIT_FUTURE_LIMIT_DAYS'))).isoformat()}"]}),
    "exit date before entry": (lambda p: {"exit_date": (p.entry_date - timedelta(days=1)).isoformat()},
                               lambda p: {"exit_date": [f"出编时间不能早于该人员入编时间 {p.entry_date.isoformat()}"]}),
    "transfer without destination": (lambda p: {"reason": "调出"},
                                      lambda p: {"destination": ["去向（调入单位等）为必填项"]}),
    "unknown reason": (lambda p: {"reason": "出国"},
                       lambda p: {"reason": ["请选择有效的选项：退休、调出、辞职、辞退、解除聘用合同、死亡、其他"]}),
    "no person": (lambda p: {"person": ""}, lambda p: {"person": ["必填"]}),
    "bad date": (lambda p: {"exit_date": "2026-02-30"}, lambda p: {"exit_date": ["日期格式应为 YYYY-MM-DD"]}),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_application(api, ctx, what):
    clerk = api("clerk1")
    person = people_of(holders=False)[0]
    overrides, expected = BAD[what]
    state = ledger_state()
    error = refused(apply(clerk, exit_data(person, **overrides(person))))
    assert error["fields"] == expected(person)
    assert ledger_state() == state


def test_another_units_person_is_not_revealed(api, ctx):
    other = _other_unit_person()
    error = refused(apply(api("clerk1"), exit_data(other)))
    text = str(error)
    assert other.name not in text and "档案馆" not in text and other.category not in text


def test_several_problems_are_reported_together(api, ctx):
    person = people_of(holders=False)[0]
    limit = setting("EXIT_FUTURE_LIMIT_DAYS")
    error = refused(apply(api("clerk1"), exit_data(
        person, person="BZ0000000000", exit_date=(clock.today() + timedelta(days=limit + 5)).isoformat())))
    assert set(error["fields"]) == {"person", "exit_date"} and error["message"] == "出编申请有 2 处问题"


def test_application_for_another_unit_is_forbidden(api, ctx):
    person = people_of(holders=False)[0]
    state = ledger_state()
    error = refused(apply(api("clerk1"), exit_data(person, unit=CLERK2_UNIT)), 403)
    assert error["fields"] == {"unit": ["只能为本单位（绍兴市柯桥区疾病预防控制中心，12330621B01000000X）申请"]}
    assert ledger_state() == state


def test_person_who_already_left(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=False)[0]
    case = start_exit(clerk, person)
    decide(reviewer, only_task(case))
    state = ledger_state()
    error = refused(apply(clerk, exit_data(person)))
    assert error["fields"] == {"person": [
        f"{person.name}（{person.code}）已于 {clock.today().isoformat()} 出编（{case['number']}），不能重复出编"]}
    assert ledger_state() == state


def test_second_running_exit_case_for_the_same_person(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    person = people_of(holders=False)[0]
    first = start_exit(clerk, person)
    state = ledger_state()
    message = f"{person.name}（{person.code}）已有在办的出编申请 {first['number']}，不能重复申请"
    assert refused(apply(clerk, exit_data(person)))["fields"] == {"person": [message]}
    assert ledger_state() == state
    # also while the first one is back with the unit for correction
    decide(reviewer, only_task(first), "return", "请补充材料")
    assert refused(apply(clerk, exit_data(person)))["fields"] == {"person": [message]}


# ---- the operation checks again under lock -----------------------------------------------------

@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_approvals_exiting_the_same_person_race(api, ctx, monkeypatch):
    """Two applications that passed the advisory check at the same moment (simulated by
    switching off the running-case look-up): approving both at once exits the person once."""
    clerk = api("clerk1")
    person = people_of(holders=True)[0]
    monkeypatch.setattr(exits, "running_case_for", lambda *args, **kwargs: None)
    cases = [start_exit(clerk, person), start_exit(clerk, person, reason="辞职")]
    monkeypatch.undo()
    before = figures(clerk)
    r1, r2 = api("reviewer1"), api("reviewer2")
    responses = race(lambda: decide(r1, only_task(cases[0])), lambda: decide(r2, only_task(cases[1])))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.json for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert winner["state"] == "completed"
    assert loser["code"] == "already_left"
    assert loser["message"] == (f"{person.name}（{person.code}）已于 {clock.today().isoformat()} 出编"
                                f"（{winner['number']}），不能重复出编")
    left = person_named(person.code)
    assert left.status == "left" and left.exit_case_id == winner["id"]
    lost = clerk.get(f"/api/v1/cases/{next(c['id'] for c in cases if c['id'] != winner['id'])}").json
    assert lost["state"] == "running" and [t["name"] for t in lost["tasks"]] == ["业务科室审核"]
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry).where(
        ChronicleEntry.entity == "person", ChronicleEntry.action == "exit")) == 1
    after = figures(clerk)
    assert (after["on_roll"], after["vacancy"]) == (before["on_roll"] - 1, before["vacancy"] + 1)
    # the reviewer can still end the losing case
    assert decide(api("reviewer1"), lost["tasks"][0]["id"], "reject", "该人员已出编").json["state"] == "rejected"


# ---- the page ----------------------------------------------------------------------------------

def test_start_exit_through_the_page(app, ctx):
    clerk = login(app.test_client(), "clerk1")
    page = clerk.get("/window/start/staff_exit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    select_html = re.search(r'<select id="f-person" name="person"[^>]*>(.*?)</select>', html, re.S).group(1)
    offered = set(re.findall(r'<option value="([^"]+)"', select_html))
    unit = unit_of(CLERK1_UNIT)
    roll = set(db.session.scalars(select(Person.code).where(Person.unit_id == unit.id, Person.status == "on_roll")))
    assert offered == roll and len(roll) > 10
    person = people_of(holders=False)[0]
    assert f"{person.name}（{person.code}" in select_html
    assert not offered & {p.code for p in people_of(CLERK2_UNIT)}

    # a bad date comes back on the page under its field, nothing written
    state = ledger_state()
    form = {"csrf_token": csrf_token(clerk, "/window/start/staff_exit"), "person": person.code, "reason": "退休",
            "exit_date": (person.entry_date - timedelta(days=1)).isoformat()}
    response = clerk.post("/window/start/staff_exit", data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert f"出编时间不能早于该人员入编时间 {person.entry_date.isoformat()}" in response.get_data(as_text=True)
    assert ledger_state() == state

    form.update(csrf_token=csrf_token(clerk, "/window/start/staff_exit"), exit_date=clock.today().isoformat())
    response = clerk.post("/window/start/staff_exit", data=form, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    case_id = int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    assert case.process_key == "staff_exit" and case.data["person"] == person.code and case.unit.code == CLERK1_UNIT
    assert "出编" in clerk.get(f"/cases/{case_id}").get_data(as_text=True)
