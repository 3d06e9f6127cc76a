"""年度用编计划 and 用编计划增加 end to end: through the API (approve, return → resubmit,
reject), the bureau-meeting decision table both ways, the application rules (own unit, year,
categories, over establishment, "出一进一", late exits, one annual plan a year), the chain plan →
公开招聘 vacancy use, two plans racing for the last places, and the start page with two lines."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.accounts.models import User
from bianzhi.accounts.operations import create_user
from bianzhi.cases.models import Case
from bianzhi.extensions import db
from bianzhi.ledger import history
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import ChronicleEntry, Person, Reservation
from bianzhi.notices.models import Notice
from bianzhi.processes.models import ProcessVersion
from bianzhi.util import local
from tests.conftest import PASSWORD, csrf_token
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, decide, only_task
from tests.fixtures.cases import start as start_vacancy_use
from tests.fixtures.pages import case_id_from, field_error, text_of, user_client
from tests.fixtures.race import race

YEAR = clock.today().year
CLERK1_NAME = "绍兴市柯桥区疾病预防控制中心"  # 事业编制: 40 approved, 33 on roll, 7 vacant
CLERK3_UNIT = "12330621B05000000X"  # 绍兴市柯桥区融媒体中心: 事业编制 30 approved, 31 on roll
A01_UNIT = "12330621A01000000X"  # 绍兴市柯桥区委办公室: 行政编制 28/26, 工勤编制 3/2
B06_UNIT = "12330621B06000000X"  # 绍兴市柯桥区城市建设发展中心: 事业编制 15/15 (full)


# --- factories ---------------------------------------------------------------------------------

def line(category="事业编制", channel="公开招聘", count=2, reason="疾控中心检验科岗位空缺，拟公开招聘检验技师"):
    return {"category": category, "channel": channel, "count": count, "reason": reason}


def plan(unit=CLERK1_UNIT, year=YEAR, lines=None, **overrides):
    data = {"unit": unit, "year": year, "lines": lines if lines is not None else [line()],
            "team_body": "党组（党委）会议", "team_date": (clock.today() - timedelta(days=3)).isoformat(),
            "team_decision": "经中心党委会研究，同意报送用编计划"}
    data.update(overrides)
    return data


def apply(api_clerk, process="annual_plan", **overrides):
    return api_clerk.post("/api/v1/cases", json={"process": process, "data": plan(**overrides)})


def started(api_clerk, process="annual_plan", **overrides):
    response = apply(api_clerk, process, **overrides)
    assert response.status_code == 201, response.json
    return response.json


def error_of(response, status):
    assert response.status_code == status, (response.status_code, response.json)
    return response.json["error"]


def complete(api_user, case, data):
    response = api_user.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": data})
    assert response.status_code == 200, response.json
    return response.json


def approve(api_user, case, opinion="同意"):
    return complete(api_user, case, {"decision": "approve", "opinion": opinion})


def meeting(decision="approve", **overrides):
    data = {"decision": decision, "meeting_date": clock.today().isoformat(), "minutes_no": f"主任办公会纪要〔{YEAR}〕12号",
            "opinion": "会议研究同意" if decision == "approve" else "会议研究认为理由不充分，不予通过"}
    data.update(overrides)
    return data


def figures(api_user, unit=CLERK1_UNIT, category="事业编制"):
    response = api_user.get(f"/api/v1/units/{unit}/establishment")
    assert response.status_code == 200, response.json
    return next(f for f in response.json if f["category"] == category)


def plan_lines(case_id):
    rows = db.session.scalars(select(Reservation).where(Reservation.case_id == case_id, Reservation.kind == "plan")
                              .order_by(Reservation.id).execution_options(populate_existing=True))
    return [(r.year, r.category, r.channel, r.count, r.used, r.status) for r in rows]


def clerk_for(unit_code, username):
    create_user(username, PASSWORD, f"{username}经办人", ["unit_clerk"], ledger.unit_by_code(unit_code))
    db.session.commit()




# --- 年度用编计划 ----------------------------------------------------------------------------------

def test_annual_plan_approved_reserves_merged_lines_and_issues_the_notice(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    processes = {p["key"]: p["name"] for p in clerk.get("/api/v1/processes").json}
    assert processes["annual_plan"] == "年度用编计划" and processes["extra_plan"] == "用编计划增加"

    lines = [line(count=2), line(channel="调任", count=1, reason="拟调任检验科科长"),
             line(count=1, reason="拟公开招聘流行病学调查员")]
    case = started(clerk, year=YEAR + 1, lines=lines)
    assert case["number"] == f"NDJH-{YEAR}-0001" and case["state"] == "running"
    assert case["data"]["lines"] == lines and case["data"]["year"] == YEAR + 1
    inbox = reviewer.get("/api/v1/tasks").json
    assert [(t["case_id"], t["name"], t["lane"]) for t in inbox] == [(case["id"], "业务科室初审", "业务科室")]

    case = approve(reviewer, case)
    assert [(t["name"], t["lane"], t["role"]) for t in case["tasks"]] == [("分管领导审核", "分管领导", "leader")]
    assert figures(clerk)["reserved"] == 0  # nothing is held before the leader approves
    before_approval = clock.now()
    case = approve(leader, case, f"同意 {YEAR + 1} 年度用编计划")
    assert case["state"] == "approved" and case["tasks"] == [] and case["finished_at"] is not None
    assert [(h["step"], h["decision"]) for h in case["history"]] == [
        ("填写年度用编计划", "submit"), ("业务科室初审", "approve"), ("分管领导审核", "approve")]

    # equal (category, channel) lines are merged: 公开招聘 2 + 1, 调任 1
    assert plan_lines(case["id"]) == [(YEAR + 1, "事业编制", "公开招聘", 3, 0, "active"),
                                      (YEAR + 1, "事业编制", "调任", 1, 0, "active")]
    after = figures(clerk)
    assert (after["approved"], after["on_roll"], after["reserved"], after["vacancy"]) == (40, 33, 4, 3)

    entries = db.session.scalars(select(ChronicleEntry).order_by(ChronicleEntry.id)).all()
    assert [(e.entity, e.action, e.delta) for e in entries] == [
        ("reservation", "plan", {"category": "事业编制", "reserved": 3}),
        ("reservation", "plan", {"category": "事业编制", "reserved": 1})]
    assert all(e.case_id == case["id"] and case["number"] in e.summary and e.user.username == "leader1"
               for e in entries)
    assert entries[0].before == {"vacancy": 7, "reserved": 0} and entries[1].after == {"vacancy": 3, "reserved": 4}
    assert f"核准{YEAR + 1}年度用编计划：公开招聘事业编制 3 名" in entries[0].summary
    # the chronicle replays back to the ledger before the approval
    unit = ledger.unit_by_code(CLERK1_UNIT)
    past = next(f for f in history.figures_as_of(unit, before_approval) if f["category"] == "事业编制")
    assert (past["reserved"], past["vacancy"]) == (0, 7)

    notices = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [n["title"] for n in notices] == ["用编计划核准通知"]
    pdf = clerk.get(notices[0]["url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    html = db.session.scalar(select(Notice.html).where(Notice.case_id == case["id"]))
    for shown in (f"{YEAR + 1} 年", "党组（党委）会议", "拟调任检验科科长", "事业编制合计</td><td>4 名",
                  f"同意{CLERK1_NAME}{YEAR + 1}年度用编计划 4 名", "单位党组（班子）会议纪要",
                  "年度用编计划申请表（经主管部门审核盖章）"):
        assert shown in html, shown


def test_annual_plan_returned_amended_and_resubmitted(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = started(clerk, year=YEAR + 1)
    case = complete(reviewer, case, {"decision": "return", "opinion": "请补充党委会纪要中的用编理由"})
    assert case["state"] == "running"
    assert [(t["name"], t["lane"]) for t in case["tasks"]] == [("填写年度用编计划", "单位经办人")]
    # only the case's own unit may answer the return
    other = api("clerk2").post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": plan(year=YEAR + 1)})
    assert other.status_code == 404
    # the resubmission is checked like the application (and is not refused as a second annual plan)
    refused = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                         json={"data": plan(year=YEAR + 1, lines=[line(count=8)])})
    assert "空编 7 名，本次申请 8 名" in error_of(refused, 422)["message"]
    amended = plan(year=YEAR + 1, lines=[line(count=3), line(category="事业编制", channel="人才引进", count=1)],
                   team_decision="经中心党委会研究，同意公开招聘 3 名、引进人才 1 名")
    case = complete(clerk, case, amended)
    assert case["data"]["lines"] == amended["lines"]
    assert [t["lane"] for t in case["tasks"]] == ["业务科室"]
    case = approve(reviewer, case)
    case = complete(leader, case, {"decision": "return", "opinion": "人才引进须附引进计划"})
    assert [t["lane"] for t in case["tasks"]] == ["单位经办人"]
    case = complete(clerk, case, amended)
    case = approve(leader, approve(reviewer, case))
    assert case["state"] == "approved"
    assert [h["decision"] for h in case["history"]] == ["submit", "return", "submit", "approve", "return", "submit",
                                                        "approve", "approve"]
    assert case["history"][1]["opinion"] == "请补充党委会纪要中的用编理由"
    assert [(c, ch, n) for _y, c, ch, n, _u, _s in plan_lines(case["id"])] == [
        ("事业编制", "公开招聘", 3), ("事业编制", "人才引进", 1)]
    assert figures(clerk)["vacancy"] == 3


@pytest.mark.parametrize("at", ["review", "leader"])
def test_annual_plan_rejected_reserves_nothing(api, ctx, at):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = started(clerk, year=YEAR + 1)
    if at == "leader":
        case = approve(reviewer, case)
    rejecter = reviewer if at == "review" else leader
    missing = rejecter.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"decision": "reject"}})
    assert error_of(missing, 422)["fields"]["opinion"] == ["审批意见为必填项"]
    case = complete(rejecter, case, {"decision": "reject", "opinion": "用编理由不充分，不予通过"})
    assert case["state"] == "rejected" and case["tasks"] == [] and case["finished_at"] is not None
    assert plan_lines(case["id"]) == [] and figures(clerk)["reserved"] == 0
    assert clerk.get(f"/api/v1/cases/{case['id']}/notices").json == []
    # a rejected annual plan does not block a new one for the same year
    assert started(clerk, year=YEAR + 1)["state"] == "running"


def test_withdrawn_annual_plan_holds_nothing_and_can_be_filed_again(api, ctx):
    clerk = api("clerk1")
    case = started(clerk, year=YEAR + 1)
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200 and response.json["state"] == "withdrawn"
    assert figures(clerk)["reserved"] == 0
    assert started(clerk, year=YEAR + 1)["state"] == "running"


# --- 用编计划增加 and the bureau-meeting decision table -----------------------------------------------

def test_extra_plan_within_the_threshold_needs_no_meeting(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = started(clerk, "extra_plan", lines=[line(count=3), line(channel="考录", count=2)])  # 5: not above 5
    assert case["number"] == f"ZJJH-{YEAR}-0001"
    case = approve(leader, approve(reviewer, case))
    assert case["state"] == "approved" and case["tasks"] == []
    assert [h["step"] for h in case["history"]] == ["填写用编计划增加申请", "业务科室初审", "分管领导审核"]
    assert plan_lines(case["id"]) == [(YEAR, "事业编制", "公开招聘", 3, 0, "active"),
                                      (YEAR, "事业编制", "考录", 2, 0, "active")]
    assert figures(clerk)["vacancy"] == 2
    assert [n["title"] for n in clerk.get(f"/api/v1/cases/{case['id']}/notices").json] == ["用编计划增加核准通知"]


def test_extra_plan_above_the_threshold_goes_to_the_bureau_meeting(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = started(clerk, "extra_plan", lines=[line(count=3), line(channel="人才引进", count=3)])  # 6 > 5
    case = approve(leader, approve(reviewer, case))
    assert case["state"] == "running" and figures(clerk)["reserved"] == 0
    assert [(t["name"], t["lane"], t["role"], t["form"]) for t in case["tasks"]] == [
        ("主任办公会研究", "主任办公会", "leader", "meeting")]
    assert [t["case_id"] for t in leader.get("/api/v1/tasks").json] == [case["id"]]
    assert reviewer.get("/api/v1/tasks").json == []
    bad = leader.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"decision": "approve"}})
    assert set(error_of(bad, 422)["fields"]) == {"meeting_date", "minutes_no"}
    no_return = leader.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": meeting("return")})
    assert "请选择有效的选项：同意、不予通过" in error_of(no_return, 422)["fields"]["decision"][0]
    case = complete(leader, case, meeting())
    assert case["state"] == "approved" and case["tasks"] == []
    assert [h["step"] for h in case["history"]][-1] == "主任办公会研究"
    assert sum(n for _y, _c, _ch, n, _u, _s in plan_lines(case["id"])) == 6
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (6, 1)


def test_extra_plan_for_administrative_places_goes_to_the_meeting_which_may_reject(api, ctx):
    clerk_for(A01_UNIT, "clerk_a01")
    clerk, reviewer, leader = api("clerk_a01"), api("reviewer1"), api("leader1")
    case = started(clerk, "extra_plan", unit=A01_UNIT, lines=[line("行政编制", "考录", 1, "综合科人员不足")])
    case = approve(leader, approve(reviewer, case))
    assert [t["name"] for t in case["tasks"]] == ["主任办公会研究"]  # one place, but 行政编制
    missing = leader.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": meeting("reject", opinion="")})
    assert error_of(missing, 422)["fields"]["opinion"] == ["会议意见为必填项"]
    case = complete(leader, case, meeting("reject"))
    assert case["state"] == "rejected" and case["finished_at"] is not None
    assert plan_lines(case["id"]) == []
    assert figures(clerk, A01_UNIT, "行政编制")["reserved"] == 0


def test_extra_plan_only_for_the_current_year(api):
    clerk = api("clerk1")
    error = error_of(apply(clerk, "extra_plan", year=YEAR + 1), 422)
    assert error["message"] == (f"用编计划增加只能申请本年度（{YEAR} 年）的计划，填写的是 {YEAR + 1} 年；"
                                "下一年度的计划请申请「年度用编计划」")
    assert error["fields"]["year"] == [error["message"]]


def test_annual_plan_for_this_year_or_next_only(api):
    clerk = api("clerk1")
    for year in (YEAR - 1, YEAR + 2):
        error = error_of(apply(clerk, year=year), 422)
        assert error["message"] == f"年度用编计划只能申请 {YEAR} 年或 {YEAR + 1} 年的计划，填写的是 {year} 年"
    assert started(clerk, year=YEAR)["state"] == "running"


def test_one_annual_plan_per_year(api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    first = started(clerk, year=YEAR + 1, lines=[line(count=1)])
    error = error_of(apply(clerk, year=YEAR + 1), 422)
    assert error["code"] == "plan_exists"
    assert error["message"] == (f"{CLERK1_NAME}{YEAR + 1} 年度用编计划已有案件 {first['number']}（在审）；"
                                "年度用编计划每年一份，如需增加请申请「用编计划增加」")
    approve(leader, approve(reviewer, first))
    assert "（已核准）" in error_of(apply(clerk, year=YEAR + 1), 422)["message"]
    assert started(clerk, year=YEAR)["state"] == "running"  # another year is another plan
    assert started(clerk, "extra_plan", lines=[line(count=1)])["state"] == "running"


# --- application rules ---------------------------------------------------------------------------

def test_only_for_the_clerks_own_unit(api):
    error = error_of(apply(api("clerk1"), unit=CLERK2_UNIT), 403)
    assert error["fields"]["unit"] == [f"只能为本单位（{CLERK1_NAME}，{CLERK1_UNIT}）申请"]
    assert error_of(apply(api("reviewer1")), 403)["message"] == "只有单位经办人可以发起申请"


def test_each_line_must_be_a_category_the_unit_has(api):
    error = error_of(apply(api("clerk1"), lines=[line(count=1), line("行政编制", "考录", 1)]), 422)
    message = f"{CLERK1_NAME}没有核定行政编制（本单位核定的编制类型：事业编制）"
    assert error["message"] == message
    assert error["fields"] == {"lines": {"1": {"category": [message]}}}


def test_plan_must_fit_in_the_vacancy_per_category(api):
    clerk = api("clerk1")
    error = error_of(apply(clerk, lines=[line(count=5), line(channel="调任", count=3)]), 422)
    message = (f"{CLERK1_NAME}事业编制空编不足：核定 40 名，在编 33 名，已预留 0 名，空编 7 名，本次申请 8 名")
    assert error["message"] == message
    assert error["fields"] == {"lines": {"0": {"count": [message]}, "1": {"count": [message]}}}
    assert started(clerk, lines=[line(count=4), line(channel="调任", count=3)])["state"] == "running"


def test_form_errors_name_the_line_and_field(api):
    error = error_of(apply(api("clerk1"), lines=[line(count=0, channel="借调")]), 422)
    assert error["fields"]["lines"]["0"]["count"] == ["应在 1 到 200 之间"]
    assert error["fields"]["lines"]["0"]["channel"][0].startswith("请选择有效的选项：公开招聘、考录")
    assert error_of(apply(api("clerk1"), lines=[]), 422)["fields"]["lines"] == ["至少填写 1 条"]
    future = (clock.today() + timedelta(days=2)).isoformat()
    error = error_of(apply(api("clerk1"), team_date=future), 422)
    assert error["fields"]["team_date"] == [f"党组（班子）会议决定日期 {future} 晚于今天；请在会议作出决定后再申请"]


def test_a_unit_over_establishment_may_add_nobody(api):
    error = error_of(apply(api("clerk3"), unit=CLERK3_UNIT, lines=[line(count=1)]), 422)
    message = ("绍兴市柯桥区融媒体中心事业编制超编：核定 30 名，在编 31 名，超编 1 名；"
               "超编单位不得新增人员，不能申请用编计划")
    assert error["message"] == message
    assert error["fields"] == {"lines": {"0": {"category": [message]}}}
    assert error_of(apply(api("clerk3"), "extra_plan", unit=CLERK3_UNIT, lines=[line(count=1)]), 422)[
        "message"] == message


def test_a_full_unit_plans_one_in_for_one_out(api, ctx):
    clerk_for(B06_UNIT, "clerk_b06")
    clerk = api("clerk_b06")
    error = error_of(apply(clerk, unit=B06_UNIT, lines=[line(count=1)]), 422)
    assert error["message"] == ("绍兴市柯桥区城市建设发展中心事业编制空编不足：核定 15 名，在编 15 名，已预留 0 名，"
                                "空编 0 名，本次申请 1 名（满编单位实行“出一进一”，须有人员出编后再申请）")
    unit = ledger.unit_by_code(B06_UNIT)
    person = db.session.scalars(select(Person).where(Person.unit_id == unit.id).order_by(Person.id)).first()
    person.status, person.left_date, person.left_reason = "left", clock.today() - timedelta(days=5), "退休"
    db.session.commit()
    assert started(clerk, unit=B06_UNIT, lines=[line(count=1)])["state"] == "running"
    assert "空编 1 名，本次申请 2 名" in error_of(apply(clerk, "extra_plan", unit=B06_UNIT, lines=[line(count=2)]),
                                                422)["message"]


def test_a_unit_that_filed_an_exit_late_is_refused(api, ctx):
    clerk = api("clerk1")
    unit = ledger.unit_by_code(CLERK1_UNIT)
    old, recent = db.session.scalars(select(Person).where(Person.unit_id == unit.id).order_by(Person.id).limit(2))
    # a late exit longer ago than LATE_EXIT_LOOKBACK_DAYS (365) no longer counts
    old.status, old.left_date, old.left_reason, old.exit_late = "left", clock.today() - timedelta(days=366), "辞职", True
    db.session.commit()
    assert started(clerk, year=YEAR + 1, lines=[line(count=1)])["state"] == "running"

    left = clock.today() - timedelta(days=40)
    recent.status, recent.left_date, recent.left_reason, recent.exit_late = "left", left, "退休", True
    db.session.commit()
    message = (f"{CLERK1_NAME}有逾期办理的出编：{recent.name}（人员编码 {recent.code}）于 {left.isoformat()} 出编，"
               "未在 15 个工作日内办理出编手续。近 365 天内有逾期出编的单位，用编计划申请不予受理")
    for process in ("annual_plan", "extra_plan"):
        error = error_of(apply(clerk, process, lines=[line(count=1)]), 422)
        assert error["code"] == "late_exit" and error["message"] == message
    # vacancy use is not a plan application: the refusal does not reach it
    assert start_vacancy_use(clerk, count=1)["state"] == "running"


def test_a_very_late_exit_counts_from_the_day_it_was_decided(api, ctx):
    """Left 400 days ago but filed (and decided) last week: the lateness is recent."""
    clerk = api("clerk1")
    unit = ledger.unit_by_code(CLERK1_UNIT)
    person = db.session.scalars(select(Person).where(Person.unit_id == unit.id).order_by(Person.id)).first()
    version = db.session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)).first()
    exit_case = Case(number=f"CB-{YEAR}-0099", process_key="staff_exit", version_id=version.id, unit_id=unit.id,
                     started_by_id=db.session.scalar(select(User.id).where(User.username == "clerk1")),
                     state="completed", title="出编", data={}, workflow_json="",
                     finished_at=clock.now() - timedelta(days=7))
    db.session.add(exit_case)
    db.session.flush()
    left = clock.today() - timedelta(days=400)
    person.status, person.left_date, person.left_reason = "left", left, "调出"
    person.exit_late, person.exit_case_id = True, exit_case.id
    db.session.commit()
    error = error_of(apply(clerk, year=YEAR + 1, lines=[line(count=1)]), 422)
    assert error["code"] == "late_exit"
    decided = local(exit_case.finished_at, "%Y-%m-%d")
    assert (f"{person.name}（人员编码 {person.code}）于 {left.isoformat()} 出编，出编案件 CB-{YEAR}-0099 于 "
            f"{decided} 办结，未在 15 个工作日内办理出编手续") in error["message"]


# --- the chain: plan → vacancy use -----------------------------------------------------------------

def test_recruitment_draws_on_the_approved_plan_transfers_need_only_the_vacancy(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    # before any plan, 公开招聘 has no plan places
    error = error_of(clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "count": 1, "channel": "公开招聘", "reason": "招聘检验技师"}}), 422)
    assert f"{YEAR}年度用编计划中公开招聘事业编制剩余 0 名" in error["message"]

    annual = approve(leader, approve(reviewer, started(clerk, year=YEAR, lines=[line(count=3)])))
    assert annual["state"] == "approved"
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (3, 4)

    use = approve(leader, approve(reviewer, start_vacancy_use(clerk, channel="公开招聘", count=2)))
    assert use["state"] == "approved"
    # the draw moves places from the plan line to the case: the vacancy does not change again
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (3, 4)
    assert plan_lines(annual["id"]) == [(YEAR, "事业编制", "公开招聘", 3, 2, "active")]
    draw = db.session.scalar(select(ChronicleEntry).where(ChronicleEntry.case_id == use["id"]))
    assert (draw.action, draw.delta, draw.before, draw.after) == (
        "draw", {"category": "事业编制", "reserved": 0}, {"plan_left": 3}, {"plan_left": 1})

    beyond = error_of(clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "count": 2, "channel": "公开招聘", "reason": "再招 2 名"}}), 422)
    assert beyond["message"] == (f"{CLERK1_NAME}{YEAR}年度用编计划中公开招聘事业编制剩余 1 名，本次申请 2 名"
                                 "（公开招聘须在核准的年度用编计划内使用，可先申请增加用编计划）")
    assert beyond["fields"]["count"] == [beyond["message"]]
    no_exam_line = error_of(clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "count": 1, "channel": "考录", "reason": "考录"}}), 422)
    assert "考录事业编制剩余 0 名" in no_exam_line["message"]

    # 调任 needs only the vacancy (4 left), not a plan line
    assert start_vacancy_use(clerk, channel="调任", count=4)["state"] == "running"
    too_many = error_of(clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "count": 5, "channel": "调任", "reason": "调任 5 名"}}), 422)
    assert too_many["message"] == f"{CLERK1_NAME}事业编制空编不足：核定 40 名，在编 33 名，已预留 3 名，空编 4 名，本次申请 5 名"

    # an extra plan adds one 公开招聘 place; the next recruitment draws on both lines
    extra = approve(leader, approve(reviewer, started(clerk, "extra_plan", lines=[line(count=1)])))
    assert extra["state"] == "approved" and figures(clerk)["vacancy"] == 3
    second = approve(leader, approve(reviewer, start_vacancy_use(clerk, channel="公开招聘", count=2)))
    assert second["state"] == "approved"
    assert plan_lines(annual["id"])[0][4] == 3 and plan_lines(extra["id"])[0][4] == 1
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (4, 3)


def test_plan_places_not_used_by_the_year_end_go_back_to_the_vacancy(api, ctx):
    from bianzhi.ledger.plans import expire_plan_lines

    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    this_year = approve(leader, approve(reviewer, started(clerk, year=YEAR, lines=[line(count=3)])))
    next_year = approve(leader, approve(reviewer, started(clerk, year=YEAR + 1, lines=[line(count=2)])))
    approve(leader, approve(reviewer, start_vacancy_use(clerk, channel="公开招聘", count=1)))
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (5, 2)
    closed = expire_plan_lines(today=date(YEAR + 1, 1, 1))
    db.session.commit()
    assert [line.case_id for line in closed] == [this_year["id"]]
    assert plan_lines(this_year["id"]) == [(YEAR, "事业编制", "公开招聘", 3, 1, "closed")]
    assert plan_lines(next_year["id"])[0][-1] == "active"
    # the 1 place drawn stays held by its vacancy-use case; the 2 unused ones are free again
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (3, 4)
    entry = db.session.scalar(select(ChronicleEntry).where(ChronicleEntry.action == "expire"))
    assert entry.delta == {"category": "事业编制", "reserved": -2} and this_year["number"] in entry.summary
    assert expire_plan_lines(today=date(YEAR + 1, 1, 1)) == []


# --- concurrency -----------------------------------------------------------------------------------

@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_plans_race_for_the_last_places(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    # 7 places vacant: two plans of 4 each fit alone, not together
    cases = [approve(reviewer, started(clerk, year=YEAR + 1, lines=[line(count=4)])),
             approve(reviewer, started(clerk, "extra_plan", lines=[line(channel="考录", count=4)]))]
    leader_a, leader_b = api("leader1"), api("leader1")
    responses = race(lambda: leader_a.post(f"/api/v1/tasks/{only_task(cases[0])}/complete",
                                           json={"data": {"decision": "approve", "opinion": "同意"}}),
                     lambda: leader_b.post(f"/api/v1/tasks/{only_task(cases[1])}/complete",
                                           json={"data": {"decision": "approve", "opinion": "同意"}}))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.json for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json
    loser = next(r for r in responses if r.status_code == 409).json["error"]
    assert winner["state"] == "approved"
    assert loser["code"] == "no_vacancy"
    assert loser["message"] == (f"{CLERK1_NAME}事业编制空编不足：核定 40 名，在编 33 名，已预留 4 名，空编 3 名，"
                                "本次申请 4 名")
    lost_id = next(c["id"] for c in cases if c["id"] != winner["id"])
    lost = clerk.get(f"/api/v1/cases/{lost_id}").json
    assert lost["state"] == "running" and [t["name"] for t in lost["tasks"]] == ["分管领导审核"]
    assert [h["decision"] for h in lost["history"]] == ["submit", "approve"]
    assert db.session.scalar(select(func.sum(Reservation.count))) == 4
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == 1
    assert (figures(clerk)["reserved"], figures(clerk)["vacancy"]) == (4, 3)
    # the loser's leader can still reject it
    assert decide(api("leader1"), lost["tasks"][0]["id"], "reject", "空编已不足").json["state"] == "rejected"


# --- deployment -----------------------------------------------------------------------------------

def test_deploy_carries_the_decision_table(app, ctx):
    result = app.test_cli_runner().invoke(args=["deploy"])
    assert result.exit_code == 0, result.output
    assert "annual_plan v1 无变化" in result.output and "extra_plan v1 无变化" in result.output
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == "extra_plan"))
    assert "extra_plan_meeting.dmn" in version.dmn_json
    annual = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == "annual_plan"))
    assert annual.dmn_json == "{}"


# --- pages -------------------------------------------------------------------------------------------

def line_fields(*lines):
    form = {}
    for i, item in enumerate(lines):
        for key, value in item.items():
            form[f"lines-{i}-{key}"] = str(value)
    return form


def page_plan(client, *lines, **overrides):
    data = {"csrf_token": csrf_token(client, "/window/start/annual_plan"), "year": str(YEAR + 1),
            "team_body": "领导班子会议", "team_date": (clock.today() - timedelta(days=1)).isoformat(),
            "team_decision": "中心领导班子会议研究同意"}
    data.update(line_fields(*lines))
    data.update(overrides)
    return client.post("/window/start/annual_plan", data=data, content_type="multipart/form-data")


def test_start_an_annual_plan_with_two_lines_on_the_page(app):
    clerk = user_client(app, "clerk1")
    window = clerk.get("/window")
    assert 'href="/window/start/annual_plan"' in window.get_data(as_text=True)
    assert 'href="/window/start/extra_plan"' in window.get_data(as_text=True)
    page = clerk.get("/window/start/annual_plan")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "年度用编计划 · 填写年度用编计划" in text_of(page)
    assert f'value="{CLERK1_UNIT}" readonly' in body
    for name in ("year", "lines-0-category", "lines-0-channel", "lines-0-count", "lines-0-reason", "team_body",
                 "team_date", "team_decision"):
        assert f'name="{name}"' in body, name

    # a bad second line: the page comes back with the error under that line, values kept
    response = page_plan(clerk, line(count=2), line("行政编制", "考录", 1, "综合岗"))
    assert response.status_code == 422
    assert field_error(response, "lines-1-category") == f"{CLERK1_NAME}没有核定行政编制（本单位核定的编制类型：事业编制）"
    # the second line is shown again with what was typed
    assert re.search(r'name="lines-1-reason" rows="4"\s*>综合岗</textarea>', response.get_data(as_text=True))

    response = page_plan(clerk, line(count=2), line(channel="调任", count=1, reason="调任科长"))
    case_id = case_id_from(response)
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.process_key == "annual_plan" and case.unit.code == CLERK1_UNIT
        assert case.data["year"] == YEAR + 1
        assert case.data["lines"] == [line(count=2), line(channel="调任", count=1, reason="调任科长")]
        db.session.remove()
    text = text_of(clerk.get(f"/cases/{case_id}"))
    assert f"NDJH-{YEAR}-0001" in text and "在审" in text


# Pages for list-shaped applications.

def test_start_page_offers_more_than_one_plan_line(app):
    body = user_client(app, "clerk1").get("/window/start/annual_plan").get_data(as_text=True)
    assert 'name="lines-1-category"' in body and "第 2 人" not in body


def test_reviewer_sees_the_plan_lines(app, api):
    case = started(api("clerk1"), year=YEAR + 1, lines=[line(count=2), line(channel="调任", count=1, reason="调任科长")])
    text = text_of(user_client(app, "reviewer1").get(f"/tasks/{only_task(case)}"))
    assert "调任科长" in text and "公开招聘" in text


def test_plan_case_title_says_what_is_planned(api):
    case = started(api("clerk1"), year=YEAR + 1, lines=[line(count=2), line(channel="调任", count=1)])
    assert "事业编制 3 名" in case["title"]
