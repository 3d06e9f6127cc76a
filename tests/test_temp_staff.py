"""临聘人员 temp staff: application → 业务科室初审 → 分管领导审核 → quota approved (notice) → the
unit registers the named temp staff → on the temp register. Through the API and one page run;
every bad input with its Chinese message and the database unchanged."""
import html as htmllib
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from stdnum.cn import ric

from bianzhi import clock
from bianzhi.cases.models import Case, CaseStep
from bianzhi.extensions import db
from bianzhi.ledger import idnumber
from bianzhi.ledger.models import ChronicleEntry, Person, TempQuota, TempStaff
from bianzhi.ledger.temp import latest_end
from bianzhi.notices.models import Notice
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, decide, only_task
from tests.fixtures.race import race

TODAY = clock.today()
START = TODAY + timedelta(days=7)
END = latest_end(START, 12)  # one year


def application(**overrides):
    data = {"unit": CLERK1_UNIT, "count": 2, "posts": "检验辅助、驾驶员", "start_date": START.isoformat(),
            "end_date": END.isoformat(), "funding": "财政拨款", "employment": "劳务派遣",
            "reason": "疾控中心冬春季传染病防控任务加重，需临时聘用检验辅助人员和驾驶员"}
    data.update(overrides)
    return data


def staff(seq=1, **overrides):
    data = {"name": f"临聘{seq}", "id_number": idnumber.make("330621", date(1990, 5, seq), 200 + seq),
            "post": "检验辅助", "start_date": START.isoformat(), "end_date": END.isoformat()}
    data.update(overrides)
    return data


def start(clerk, **overrides):
    response = clerk.post("/api/v1/cases", json={"process": "temp_staff", "data": application(**overrides)})
    assert response.status_code == 201, response.json
    return response.json


def approve(api, case):
    reviewer, leader = api("reviewer1"), api("leader1")
    response = decide(reviewer, only_task(case), "approve", "岗位和经费来源属实")
    assert response.status_code == 200, response.json
    response = decide(leader, only_task(response.json), "approve", "同意")
    assert response.status_code == 200, response.json
    return response.json


def register(clerk, task, people):
    return clerk.post(f"/api/v1/tasks/{task}/complete", json={"data": {"staff": people}})


def establishment(api_user, unit=CLERK1_UNIT):
    response = api_user.get(f"/api/v1/units/{unit}/establishment")
    assert response.status_code == 200, response.json
    return response.json


def counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (Case, CaseStep, TempQuota, TempStaff, ChronicleEntry, Person))


def error_of(response, status):
    assert response.status_code == status, (response.status_code, response.json)
    body = response.json["error"]
    assert set(body) == {"code", "message", "fields"}
    return body


def notice_html(case_id, title):
    return db.session.scalar(select(Notice.html).where(Notice.case_id == case_id, Notice.title == title))


def visible_text(markup):
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


# ---------------------------------------------------------------- the journey


def test_approve_register_completed(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    assert {"key": "temp_staff", "name": "临聘人员", "version": 1} in clerk.get("/api/v1/processes").json
    figures_before = establishment(clerk)
    people_before = db.session.scalar(select(func.count()).select_from(Person))

    case = start(clerk)
    assert re.fullmatch(rf"LPRY-{TODAY.year}-0001", case["number"])
    assert case["state"] == "running" and case["data"]["count"] == 2
    inbox = reviewer.get("/api/v1/tasks").json
    assert [(t["case_id"], t["name"], t["lane"]) for t in inbox] == [(case["id"], "业务科室初审", "业务科室")]

    case = approve(api, case)
    assert case["state"] == "approved"
    assert [(t["name"], t["lane"], t["form"]) for t in case["tasks"]] == [("临聘人员登记", "单位经办人",
                                                                           "temp_registration")]
    quota = db.session.scalar(select(TempQuota))
    assert (quota.case_id, quota.count, quota.used, quota.posts, quota.funding, quota.start_date, quota.end_date) == \
        (case["id"], 2, 0, "检验辅助、驾驶员", "财政拨款", START, END)
    assert [n["title"] for n in clerk.get(f"/api/v1/cases/{case['id']}/notices").json] == ["临聘人员核准通知"]
    text = visible_text(notice_html(case["id"], "临聘人员核准通知"))
    for shown in ("核准临聘人数 2 名", "临聘岗位 检验辅助、驾驶员", f"聘用期限 {START} 至 {END}", "经费来源 财政拨款",
                  "用工方式 劳务派遣", "临聘人员使用申请表（经主管部门审核盖章）", "经费来源证明", "劳务派遣协议或劳动合同文本",
                  "不占用本单位编制"):
        assert shown in text, shown
    assert establishment(clerk) == figures_before  # approving temp staff holds no establishment place

    task = only_task(case)
    assert clerk.get("/api/v1/tasks").json[0]["id"] == task
    man, woman = staff(1), staff(2, name="王丽", post="驾驶员", start_date=(START + timedelta(days=3)).isoformat(),
                                 end_date=(END - timedelta(days=30)).isoformat())
    response = register(clerk, task, [man, woman])
    assert response.status_code == 200, response.json
    case = response.json
    assert case["state"] == "completed" and case["tasks"] == [] and case["finished_at"]
    assert [(h["step"], h["decision"], h["username"]) for h in case["history"]] == [
        ("填写临聘人员使用申请", "submit", "clerk1"), ("业务科室初审", "approve", "reviewer1"),
        ("分管领导审核", "approve", "leader1"), ("临聘人员登记", "submit", "clerk1")]

    rows = db.session.scalars(select(TempStaff).order_by(TempStaff.id)).all()
    assert [(r.name, r.id_number, r.post, r.start_date, r.end_date, r.status, r.case_id, r.quota_id) for r in rows] == [
        ("临聘1", man["id_number"], "检验辅助", START, END, "active", case["id"], quota.id),
        ("王丽", woman["id_number"], "驾驶员", START + timedelta(days=3), END - timedelta(days=30), "active",
         case["id"], quota.id)]
    for row in rows:  # sex and birth date come from the ID number
        info = idnumber.parse(row.id_number)
        assert (row.sex, row.birth_date) == (info.sex, info.birth_date)
    assert rows[0].birth_date == date(1990, 5, 1) and rows[0].sex == "男" and rows[1].sex == "女"
    db.session.refresh(quota)
    assert quota.used == 2

    # 编外: the establishment figures and the roll are as they were
    assert establishment(clerk) == figures_before
    assert db.session.scalar(select(func.count()).select_from(Person)) == people_before

    entries = db.session.scalars(select(ChronicleEntry).order_by(ChronicleEntry.id)).all()
    assert [(e.entity, e.action, e.user.username) for e in entries] == [
        ("temp_quota", "approve", "leader1"), ("temp_staff", "register", "clerk1"),
        ("temp_staff", "register", "clerk1"), ("temp_quota", "use", "clerk1")]
    assert all(e.case_id == case["id"] and case["number"] in e.summary and e.delta is None for e in entries)
    assert entries[0].after["count"] == 2 and (entries[3].before["used"], entries[3].after["used"]) == (0, 2)
    assert "王丽 登记为临聘人员" in entries[2].summary

    assert case["title"] == "临聘人员（2 名）"
    titles = [n["title"] for n in clerk.get(f"/api/v1/cases/{case['id']}/notices").json]
    assert titles == ["临聘人员核准通知", "临聘人员登记表"]
    text = visible_text(notice_html(case["id"], "临聘人员登记表"))
    info = idnumber.parse(man["id_number"])
    assert f"1 临聘1 男 {info.birth_date} {man['id_number']} 检验辅助 {START} 至 {END}" in text
    assert f"2 王丽 女" in text and "临聘人员身份证复印件" in text and "不计入在编人数" in text


def test_fewer_people_than_approved_may_be_registered(api, ctx):
    clerk = api("clerk1")
    case = approve(api, start(clerk, count=3))
    response = register(clerk, only_task(case), [staff(1)])
    assert response.status_code == 200 and response.json["state"] == "completed"
    quota = db.session.scalar(select(TempQuota))
    assert (quota.count, quota.used) == (3, 1)


def test_return_by_reviewer_and_leader_then_resubmit(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = start(clerk)
    response = decide(reviewer, only_task(case), "return", "请补充经费来源证明")
    assert response.status_code == 200
    case = response.json
    assert case["state"] == "running" and [t["lane"] for t in case["tasks"]] == ["单位经办人"]
    assert reviewer.get("/api/v1/tasks").json == []
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                          json={"data": application(count=3, funding="单位自有资金")})
    assert response.status_code == 200, response.json
    case = response.json
    assert case["data"]["count"] == 3 and case["data"]["funding"] == "单位自有资金"
    assert case["tasks"][0]["lane"] == "业务科室"

    response = decide(reviewer, only_task(case))
    response = decide(leader, only_task(response.json), "return", "岗位名称不规范")
    case = response.json
    assert [t["name"] for t in case["tasks"]] == ["填写临聘人员使用申请"]
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete",
                          json={"data": application(count=3, funding="单位自有资金", posts="检验辅助岗")})
    assert response.status_code == 200, response.json
    case = approve(api, response.json)
    assert [h["decision"] for h in case["history"]] == ["submit", "return", "submit", "approve", "return", "submit",
                                                        "approve", "approve"]
    assert case["history"][1]["opinion"] == "请补充经费来源证明"
    quota = db.session.scalar(select(TempQuota))
    assert (quota.count, quota.funding, quota.posts) == (3, "单位自有资金", "检验辅助岗")  # the resubmitted values


@pytest.mark.parametrize("who", ["reviewer", "leader"])
def test_reject_ends_the_case_with_no_quota(api, ctx, who):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = start(clerk)
    if who == "leader":
        case = decide(reviewer, only_task(case)).json
    response = decide(reviewer if who == "reviewer" else leader, only_task(case), "reject", "经费来源不落实")
    assert response.status_code == 200
    assert response.json["state"] == "rejected" and response.json["tasks"] == []
    assert db.session.scalar(select(func.count()).select_from(TempQuota)) == 0
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)) == 0
    assert clerk.get(f"/api/v1/cases/{case['id']}/notices").json == []


def test_withdraw_before_review(api, ctx):
    clerk = api("clerk1")
    case = start(clerk)
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200 and response.json["state"] == "withdrawn"
    assert api("reviewer1").get("/api/v1/tasks").json == []


# ---------------------------------------------------------------- bad applications


def too_long_message(start):
    return f"聘用期限最长 36 个月：自 {start} 起最晚至 {latest_end(start, 36)}"


@pytest.mark.parametrize("overrides, field, message", [
    ({"count": 0}, "count", "应在 1 到 100 之间"),
    ({"count": -1}, "count", "应在 1 到 100 之间"),
    ({"count": 101}, "count", "应在 1 到 100 之间"),
    ({"count": "两名"}, "count", "应为整数"),
    ({"posts": "  "}, "posts", "必填"),
    ({"reason": ""}, "reason", "必填"),
    ({"funding": "社会捐助"}, "funding", "请选择有效的选项：财政拨款、单位自有资金、项目经费、上级补助、其他"),
    ({"funding": None}, "funding", "必填"),
    ({"employment": "口头约定"}, "employment", "请选择有效的选项：劳务派遣、劳动合同、劳务协议"),
    ({"start_date": "2026-02-30"}, "start_date", "日期格式应为 YYYY-MM-DD"),
    ({"end_date": ""}, "end_date", "必填"),
    ({"end_date": START.isoformat()}, "end_date", "结束日期应晚于开始日期"),
    ({"end_date": (START - timedelta(days=1)).isoformat()}, "end_date", "结束日期应晚于开始日期"),
    ({"end_date": (latest_end(START, 36) + timedelta(days=1)).isoformat()}, "end_date", too_long_message(START)),
    ({"start_date": (TODAY - timedelta(days=31)).isoformat()}, "start_date",
     f"开始日期不能早于 {TODAY - timedelta(days=30)}（最多补报 30 天前已开始的用工）"),
    ({"colour": "red"}, "colour", "表单中没有这个字段"),
])
def test_bad_application(api, ctx, overrides, field, message):
    before = counts()
    response = api("clerk1").post("/api/v1/cases", json={"process": "temp_staff", "data": application(**overrides)})
    body = error_of(response, 422)
    assert body["fields"][field] == [message], body
    assert counts() == before


def test_application_rule_message_names_every_problem(api, ctx):
    early = TODAY - timedelta(days=40)
    body = error_of(api("clerk1").post("/api/v1/cases", json={"process": "temp_staff", "data": application(
        start_date=early.isoformat(), end_date=early.isoformat())}), 422)
    assert body["message"] == (f"临聘人员申请有误：开始日期不能早于 {TODAY - timedelta(days=30)}（最多补报 30 天前已开始的用工）；"
                               "结束日期应晚于开始日期")
    assert set(body["fields"]) == {"start_date", "end_date"}


def test_the_limits_themselves_are_accepted(api, ctx):
    clerk = api("clerk1")
    earliest = TODAY - timedelta(days=30)
    case = start(clerk, start_date=earliest.isoformat(), end_date=latest_end(earliest, 36).isoformat(), count=100)
    assert case["state"] == "running"


def test_the_maximum_period_is_a_setting(app, api, ctx):
    app.config["TEMP_MAX_MONTHS"] = 12
    try:
        body = error_of(api("clerk1").post("/api/v1/cases", json={"process": "temp_staff", "data": application(
            end_date=latest_end(START, 13).isoformat())}), 422)
        assert body["fields"]["end_date"] == [f"聘用期限最长 12 个月：自 {START} 起最晚至 {latest_end(START, 12)}"]
    finally:
        del app.config["TEMP_MAX_MONTHS"]


def test_clerk_cannot_apply_for_another_unit(api, ctx):
    before = counts()
    body = error_of(api("clerk1").post("/api/v1/cases", json={"process": "temp_staff",
                                                               "data": application(unit=CLERK2_UNIT)}), 403)
    assert body["message"] == "只能为本单位申请"
    assert body["fields"]["unit"] == ["只能为本单位（绍兴市柯桥区疾病预防控制中心，12330621B01000000X）申请"]
    assert counts() == before


def test_bureau_staff_cannot_apply(api, ctx):
    body = error_of(api("reviewer1").post("/api/v1/cases", json={"process": "temp_staff", "data": application()}),
                    403)
    assert body["message"] == "只有单位经办人可以发起申请"


def test_resubmission_is_checked_by_the_same_rule(api, ctx):
    clerk = api("clerk1")
    case = decide(api("reviewer1"), only_task(start(clerk)), "return", "期限有误").json
    before = counts()
    body = error_of(clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": application(
        end_date=latest_end(START, 37).isoformat())}), 422)
    assert body["fields"]["end_date"] == [too_long_message(START)]
    assert counts() == before


def test_missing_opinion_on_return_and_reject(api, ctx):
    case = start(api("clerk1"))
    reviewer = api("reviewer1")
    before = counts()
    for decision in ("return", "reject"):
        body = error_of(decide(reviewer, only_task(case), decision, ""), 422)
        assert body["fields"] == {"opinion": ["审批意见为必填项"]}
    assert counts() == before


def test_another_unit_cannot_see_or_register(api, ctx):
    case = approve(api, start(api("clerk1")))
    clerk2 = api("clerk2")
    before = counts()
    assert error_of(clerk2.get(f"/api/v1/cases/{case['id']}"), 404)["message"] == "案件不存在或无权查看"
    body = error_of(register(clerk2, only_task(case), [staff(1)]), 404)
    assert body["message"] == "案件不存在或无权查看"
    body = error_of(register(api("reviewer1"), only_task(case), [staff(1)]), 403)
    assert body["message"] == "此任务由单位经办人办理，您无权办理"
    assert counts() == before


# ---------------------------------------------------------------- bad registrations


def at_registration(api, count=2, **overrides):
    clerk = api("clerk1")
    case = approve(api, start(clerk, count=count, **overrides))
    return clerk, case, only_task(case)


def test_bad_id_numbers_and_list(api, ctx):
    clerk, _case, task = at_registration(api)
    good = staff(1)["id_number"]
    before = counts()
    bad_checksum = good[:-1] + ("0" if good[-1] != "0" else "1")
    body = error_of(register(clerk, task, [staff(1, id_number=bad_checksum)]), 422)
    assert body["fields"] == {"staff": {"0": {"id_number": ["身份证号校验位不正确"]}}}
    body = error_of(register(clerk, task, [staff(1), staff(2, id_number="33062119900501")]), 422)
    assert body["fields"] == {"staff": {"1": {"id_number": ["身份证号应为18位"]}}}
    feb30 = "33062119900230001"
    feb30 += ric.calc_check_digit(feb30 + "0")  # right checksum, impossible birth date
    body = error_of(register(clerk, task, [staff(1, id_number=feb30)]), 422)
    assert body["fields"]["staff"]["0"]["id_number"] == ["身份证号格式不正确（出生日期无效或含非法字符）"]
    body = error_of(register(clerk, task, [staff(1, name="", post="", start_date="2026-13-01")]), 422)
    assert body["fields"]["staff"]["0"] == {"name": ["必填"], "post": ["必填"],
                                            "start_date": ["日期格式应为 YYYY-MM-DD"]}
    body = error_of(register(clerk, task, []), 422)
    assert body["fields"] == {"staff": ["至少填写 1 条"]}
    body = error_of(register(clerk, task, [staff(1, phone="138")]), 422)
    assert body["fields"] == {"staff": {"0": {"phone": ["表单中没有这个字段"]}}}
    assert counts() == before
    assert register(clerk, task, [staff(1)]).status_code == 200


def test_more_people_than_the_quota(api, ctx):
    clerk, _case, task = at_registration(api, count=2)
    before = counts()
    body = error_of(register(clerk, task, [staff(1), staff(2), staff(3)]), 422)
    message = "核准临聘人员 2 名，已登记 0 名，剩余 2 名，本次登记 3 名"
    assert body["message"] == message and body["fields"] == {"staff": [message]}
    assert counts() == before


def test_same_person_twice_in_the_list(api, ctx):
    clerk, _case, task = at_registration(api)
    before = counts()
    body = error_of(register(clerk, task, [staff(1), staff(1, name="临聘1（重复）")]), 422)
    assert body["message"] == "临聘人员信息有误，请按提示修改"
    assert body["fields"] == {"staff": {"1": {"id_number": ["与第 1 人身份证号重复"]}}}
    assert counts() == before


def test_person_already_on_a_temp_register(api, ctx):
    first_clerk, first_case, first_task = at_registration(api, count=1)
    assert register(first_clerk, first_task, [staff(1)]).status_code == 200
    clerk, _case, task = at_registration(api)
    before = counts()
    body = error_of(register(clerk, task, [staff(2), staff(1)]), 422)
    assert body["fields"] == {"staff": {"1": {"id_number": [
        f"此人已在绍兴市柯桥区疾病预防控制中心临聘（{first_case['number']}，{START} 至 {END}），不能重复登记"]}}}
    assert counts() == before


def test_person_on_the_establishment_roll(api, ctx):
    clerk, _case, task = at_registration(api)
    holder = db.session.scalar(select(Person).where(Person.status == "on_roll").order_by(Person.id).limit(1))
    before = counts()
    body = error_of(register(clerk, task, [staff(1, id_number=holder.id_number)]), 422)
    assert body["fields"] == {"staff": {"0": {"id_number": [
        f"此人已在{holder.unit.name}在编（编码 {holder.code}），在编人员不能登记为临聘人员"]}}}
    assert counts() == before


def test_person_who_left_the_roll_may_be_a_temp(api, ctx):
    clerk, _case, task = at_registration(api)
    holder = db.session.scalar(select(Person).where(Person.status == "on_roll").order_by(Person.id).limit(1))
    holder.status = "left"
    db.session.commit()
    assert register(clerk, task, [staff(1, id_number=holder.id_number)]).status_code == 200


def test_staff_period_inside_the_approved_period(api, ctx):
    clerk, _case, task = at_registration(api)
    before = counts()
    body = error_of(register(clerk, task, [
        staff(1, start_date=(START - timedelta(days=1)).isoformat()),
        staff(2, end_date=(END + timedelta(days=1)).isoformat()),
    ]), 422)
    assert body["fields"] == {"staff": {
        "0": {"start_date": [f"不能早于核准期限的开始日期 {START}"]},
        "1": {"end_date": [f"不能晚于核准期限的结束日期 {END}"]}}}
    body = error_of(register(clerk, task, [
        staff(1, start_date=(START + timedelta(days=10)).isoformat(), end_date=(START + timedelta(days=10)).isoformat()),
        staff(2, start_date=(END + timedelta(days=1)).isoformat(), end_date=(END + timedelta(days=5)).isoformat()),
    ]), 422)
    assert body["fields"] == {"staff": {
        "0": {"end_date": ["结束日期应晚于开始日期"]},
        "1": {"start_date": [f"不能晚于核准期限的结束日期 {END}"], "end_date": [f"不能晚于核准期限的结束日期 {END}"]}}}
    assert counts() == before


def test_under_age_at_start(api, ctx):
    clerk, _case, task = at_registration(api)
    young = idnumber.make("330621", START - timedelta(days=365 * 17), 301)
    before = counts()
    body = error_of(register(clerk, task, [staff(1, id_number=young)]), 422)
    assert body["fields"] == {"staff": {"0": {"id_number": ["聘用开始时未满18周岁"]}}}
    assert counts() == before


# ---------------------------------------------------------------- concurrency




@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_cases_register_the_same_person_at_once(api, ctx):
    _clerk, case_a, task_a = at_registration(api, count=1)
    _clerk, case_b, task_b = at_registration(api, count=1)
    clerk_a, clerk_b = api("clerk1"), api("clerk1")
    person = staff(7)
    responses = race(lambda: register(clerk_a, task_a, [person]), lambda: register(clerk_b, task_b, [person]))
    statuses = sorted(r.status_code for r in responses)
    # SQLite queues the writers (the loser sees the winner's row: 422); on PostgreSQL both may pass
    # the advisory check and the partial unique index refuses the second insert (409)
    assert statuses in ([200, 409], [200, 422]), [r.json for r in responses]
    loser = next(r for r in responses if r.status_code != 200).json["error"]
    assert "临聘" in loser["message"] or "临聘" in str(loser["fields"])
    db.session.expire_all()
    active = db.session.scalars(select(TempStaff).where(TempStaff.id_number == person["id_number"])).all()
    assert len(active) == 1
    quotas = {q.case_id: q.used for q in db.session.scalars(select(TempQuota))}
    assert sorted(quotas.values()) == [0, 1] and quotas[active[0].case_id] == 1


# ---------------------------------------------------------------- pages


def page_text(response):
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return visible_text(body)


def in_db(app, fn):
    """Read the database outside any request: the page clients must not share an app context
    (flask-login caches the user in it)."""
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def test_apply_and_register_two_temp_staff_through_the_pages(app):
    clerk = login(app.test_client(), "clerk1")
    window = clerk.get("/window")
    assert 'href="/window/start/temp_staff"' in window.get_data(as_text=True)
    form_page = clerk.get("/window/start/temp_staff")
    assert form_page.status_code == 200
    page = form_page.get_data(as_text=True)
    for name in ("count", "posts", "start_date", "end_date", "funding", "employment", "reason", "attachments"):
        assert f'name="{name}"' in page, name
    data = {k: str(v) for k, v in application().items() if k != "unit"}
    data["csrf_token"] = csrf_token(clerk, "/window/start/temp_staff")
    response = clerk.post("/window/start/temp_staff", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, page_text(response)[:500]
    case_id = int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))
    data = in_db(app, lambda: db.session.get(Case, case_id).data)
    assert data["count"] == 2 and data["unit"] == CLERK1_UNIT

    for username in ("reviewer1", "leader1"):
        user = login(app.test_client(), username)
        task_id = re.findall(r'href="/tasks/([^"/]+)"', user.get("/inbox").get_data(as_text=True))
        assert len(task_id) == 1
        path = f"/tasks/{task_id[0]}"
        if username == "reviewer1":
            text = page_text(user.get(path))
            for shown in ("临聘人数 2", "临聘岗位 检验辅助、驾驶员", "经费来源 财政拨款", "用工方式 劳务派遣"):
                assert shown in text, shown
        response = user.post(path, data={"csrf_token": csrf_token(user, path), "decision": "approve",
                                         "opinion": "同意"}, content_type="multipart/form-data")
        assert response.status_code == 302

    task_id = re.findall(r'href="/tasks/([^"/]+)"', clerk.get("/window").get_data(as_text=True))
    assert len(task_id) == 1
    path = f"/tasks/{task_id[0]}"
    page = clerk.get(path).get_data(as_text=True)
    # one block per approved place (case.data["count"])
    for i in (0, 1):
        for field in ("name", "id_number", "post", "start_date", "end_date"):
            assert f'name="staff-{i}-{field}"' in page, (i, field)
    assert 'name="staff-2-name"' not in page

    people = [staff(1), staff(2, name="王丽", post="驾驶员")]
    form = {"csrf_token": csrf_token(clerk, path)}
    bad = dict(people[1], id_number=people[1]["id_number"][:-1] + ("0" if people[1]["id_number"][-1] != "0" else "1"))
    for i, person in enumerate([people[0], bad]):
        form.update({f"staff-{i}-{k}": v for k, v in person.items()})
    response = clerk.post(path, data=form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "身份证号校验位不正确" in page_text(response)
    assert in_db(app, lambda: db.session.scalar(select(func.count()).select_from(TempStaff))) == 0

    form = {"csrf_token": csrf_token(clerk, path)}
    for i, person in enumerate(people):
        form.update({f"staff-{i}-{k}": v for k, v in person.items()})
    response = clerk.post(path, data=form, content_type="multipart/form-data")
    assert response.status_code == 302, page_text(response)[:800]
    assert response.headers["Location"].endswith(f"/cases/{case_id}")
    rows = in_db(app, lambda: [(r.name, r.post, r.sex, r.case_id) for r in
                               db.session.scalars(select(TempStaff).order_by(TempStaff.id))])
    assert rows == [("临聘1", "检验辅助", "男", case_id), ("王丽", "驾驶员", "女", case_id)]
    assert in_db(app, lambda: db.session.get(Case, case_id).state) == "completed"
    text = page_text(clerk.get(f"/cases/{case_id}"))
    assert f"临聘人员 姓名 性别 出生日期 岗位 聘用期限 状态 临聘1 男 1990-05-01 检验辅助 {START} 至 {END} 在岗" in text


def test_unique_index_is_the_last_word(api, ctx, monkeypatch):
    """Were the advisory check to miss a person already active (a race on PostgreSQL), the
    partial unique index refuses the insert: a 409 naming the cause, nothing half-written."""
    from bianzhi.ledger import temp

    first_clerk, _case, first_task = at_registration(api, count=1)
    assert register(first_clerk, first_task, [staff(1)]).status_code == 200
    clerk, case, task = at_registration(api)
    monkeypatch.setattr(temp, "_where_active", lambda number: None)
    before = counts()
    body = error_of(register(clerk, task, [staff(2), staff(1)]), 409)
    assert body["code"] == "temp_staff_taken"
    assert body["message"] == "登记的人员刚被其他案件登记为临聘人员，请刷新后核对"
    db.session.expire_all()
    assert counts() == before
    assert clerk.get(f"/api/v1/cases/{case['id']}").json["state"] == "approved"
