"""Every bad input named in the foundation issue gets a specific Chinese answer, and the
database is as it was."""
import pytest
from sqlalchemy import func, select

from bianzhi.cases.models import Case, CaseStep
from bianzhi.extensions import db
from bianzhi.ledger.models import Person, Reservation
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, application, approve_through, decide, only_task, person, start


def counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Case, CaseStep, Person, Reservation))


def error_of(response, status):
    assert response.status_code == status, (response.status_code, response.json)
    body = response.json["error"]
    assert set(body) == {"code", "message", "fields"}
    return body


def test_wrong_password(client):
    body = error_of(client.post("/api/v1/tokens", json={"username": "clerk1", "password": "nope"}), 401)
    assert body["message"] == "用户名或密码错误"
    body = error_of(client.post("/api/v1/tokens", data="not json"), 422)
    assert "JSON" in body["message"]


def test_missing_and_bad_token(client):
    assert "令牌" in error_of(client.get("/api/v1/me"), 401)["message"]
    assert "令牌" in error_of(client.get("/api/v1/me", headers={"Authorization": "Bearer forged"}), 401)["message"]


def test_other_units_case_task_notice_and_establishment_are_invisible(api):
    clerk1, clerk2, reviewer, leader = api("clerk1"), api("clerk2"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk1, count=1))
    task = only_task(case)
    notice = clerk1.get(f"/api/v1/cases/{case['id']}/notices").json[0]
    for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases/{case['id']}/notices", notice["url"],
                 f"/api/v1/tasks/{task}"):
        response = clerk2.get(path)
        assert response.status_code == 404, path
        assert case["number"] not in response.get_data(as_text=True)
    body = error_of(clerk2.post(f"/api/v1/tasks/{task}/complete", json={"data": {"people": [person(1)]}}), 404)
    assert body["message"] == "案件不存在或无权查看"
    body = error_of(clerk2.get(f"/api/v1/units/{CLERK1_UNIT}/establishment"), 403)
    assert body["message"] == "只能查看本单位的编制情况"
    assert clerk2.get(f"/api/v1/units/{CLERK2_UNIT}/establishment").status_code == 200
    assert clerk2.get("/api/v1/tasks").json == []


def test_clerk_cannot_apply_for_another_unit(api, ctx):
    before = counts()
    body = error_of(api("clerk1").post("/api/v1/cases", json={
        "process": "vacancy_use", "data": application(unit=CLERK2_UNIT)}), 403)
    assert "只能为本单位" in body["fields"]["unit"][0]
    assert counts() == before


def test_reviewer_cannot_complete_unit_lane_task(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    case = decide(reviewer, only_task(case), "return", "请补充材料").json
    body = error_of(reviewer.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": application()}), 403)
    assert body["message"] == "此任务由单位经办人办理，您无权办理"


def test_leader_cannot_do_the_reviewers_step(api):
    case = start(api("clerk1"))
    body = error_of(decide(api("leader1"), only_task(case)), 403)
    assert body["message"] == "此任务由业务科室办理，您无权办理"


@pytest.mark.parametrize("overrides, field, message", [
    ({"count": 0}, "count", "应在 1 到 200 之间"),
    ({"count": -3}, "count", "应在 1 到 200 之间"),
    ({"count": "两个"}, "count", "应为整数"),
    ({"count": 8}, "count", "空编不足：核定 40 名，在编 33 名，已预留 0 名，空编 7 名，本次申请 8 名"),
    ({"category": "行政编制"}, "category", "本单位没有核定行政编制"),
    ({"category": "编外"}, "category", "请选择有效的选项"),
    ({"channel": "内部推荐"}, "channel", "请选择有效的选项"),
    ({"reason": "  "}, "reason", "必填"),
    ({"color": "red"}, "color", "表单中没有这个字段"),
])
def test_bad_application(api, ctx, overrides, field, message):
    before = counts()
    response = api("clerk1").post("/api/v1/cases", json={"process": "vacancy_use", "data": application(**overrides)})
    body = error_of(response, 422)
    assert message in " ".join(body["fields"][field]), body
    assert counts() == before


def test_unknown_process_and_malformed_body(api):
    clerk = api("clerk1")
    assert error_of(clerk.post("/api/v1/cases", json={"process": "nope", "data": {}}), 404)["message"] == \
        "没有名为 nope 的业务流程"
    assert error_of(clerk.post("/api/v1/cases", json={"data": {}}), 422)["fields"] == {"process": ["必填"]}
    assert error_of(clerk.post("/api/v1/cases", json=[1, 2]), 422)["code"] == "bad_json"
    assert error_of(clerk.post("/api/v1/cases", json={"process": "vacancy_use", "data": "x"}), 422)["fields"] == \
        {"data": ["应为对象"]}


def test_missing_opinion_on_return_and_reject(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    before = counts()
    for decision in ("return", "reject"):
        body = error_of(decide(reviewer, only_task(case), decision, ""), 422)
        assert body["fields"] == {"opinion": ["审批意见为必填项"]}
    body = error_of(decide(reviewer, only_task(case), "maybe", "x"), 422)
    assert "请选择有效的选项" in body["fields"]["decision"][0]
    assert counts() == before
    assert decide(reviewer, only_task(case), "approve", "").status_code == 200  # approving needs no opinion


def _at_registration(api, count=2):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk, count=count))
    return clerk, reviewer, only_task(case)


def register(clerk, task, people):
    return clerk.post(f"/api/v1/tasks/{task}/complete", json={"data": {"people": people}})


def test_bad_id_numbers(api, ctx):
    clerk, _reviewer, task = _at_registration(api)
    good = person(1)["id_number"]
    bad_checksum = good[:-1] + ("0" if good[-1] != "0" else "1")
    before = counts()
    body = error_of(register(clerk, task, [person(1, id_number=bad_checksum)]), 422)
    assert body["fields"]["people"]["0"]["id_number"] == ["身份证号校验位不正确"]
    body = error_of(register(clerk, task, [person(1, id_number="12345")]), 422)
    assert body["fields"]["people"]["0"]["id_number"] == ["身份证号应为18位"]
    body = error_of(register(clerk, task, [person(1), person(1)]), 422)
    assert "与第 1 人身份证号重复" in body["fields"]["people"]["1"]["id_number"][0]
    on_roll = db.session.scalar(select(Person).where(Person.status == "on_roll").limit(1))
    body = error_of(register(clerk, task, [person(1, id_number=on_roll.id_number)]), 422)
    assert body["fields"]["people"]["0"]["id_number"] == [f"此人已在{on_roll.unit.name}在编（编码 {on_roll.code}）"]
    body = error_of(register(clerk, task, [person(1, name="", entry_date="2026-13-01")]), 422)
    assert body["fields"]["people"]["0"] == {"name": ["必填"], "entry_date": ["日期格式应为 YYYY-MM-DD"]}
    body = error_of(register(clerk, task, [person(1), person(2), person(3)]), 422)
    assert body["fields"]["people"] == ["最多登记 2 人（本案剩余预留编制数）"]
    body = error_of(register(clerk, task, []), 422)
    assert body["fields"]["people"] == ["至少填写 1 条"]
    assert counts() == before
    assert register(clerk, task, [person(1)]).status_code == 200


def test_same_task_completed_twice(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    task = only_task(case)
    assert decide(reviewer, task).status_code == 200
    body = error_of(decide(api("reviewer2"), task), 409)
    assert body["code"] == "already_done" and body["message"].startswith("该任务已由周建华于")


def test_cannot_review_own_case(app, api, ctx):
    from bianzhi.accounts.models import User, UserRole
    user = db.session.scalar(select(User).where(User.username == "clerk1"))
    user.role_rows.append(UserRole(role="reviewer"))
    db.session.commit()
    both = api("clerk1")
    case = start(both)
    body = error_of(decide(both, only_task(case)), 403)
    assert body["message"] == "不能审核本人发起的案件"
    assert both.get("/api/v1/tasks").json == []


def test_reviewer_of_a_case_cannot_also_approve_it_as_leader(api, ctx):
    from bianzhi.accounts.models import User, UserRole
    user = db.session.scalar(select(User).where(User.username == "reviewer1"))
    user.role_rows.append(UserRole(role="leader"))
    db.session.commit()
    reviewer = api("reviewer1")
    case = decide(reviewer, only_task(start(api("clerk1")))).json
    body = error_of(decide(reviewer, only_task(case)), 403)
    assert body["message"] == "已在本案中担任初审，不能再作领导审核"


def test_uploads_checked_by_type_size_and_content(app, api, ctx):
    clerk = api("clerk1")
    case = start(clerk)
    url = f"/api/v1/cases/{case['id']}/attachments"

    def upload(name, content):
        import io
        return clerk.post(url, data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")

    assert "只接受" in error_of(upload("virus.exe", b"MZ..."), 422)["fields"]["attachments"][0]
    assert "不是真正的 .pdf 文件" in error_of(upload("fake.pdf", b"hello"), 422)["fields"]["attachments"][0]
    old = app.config["UPLOAD_MAX_BYTES"]
    app.config["UPLOAD_MAX_BYTES"] = 1024  # small, so the test body stays in memory
    try:
        assert "超过大小上限" in error_of(upload("big.pdf", b"%PDF-1.4" + b"0" * 2048), 422)["fields"][
            "attachments"][0]
    finally:
        app.config["UPLOAD_MAX_BYTES"] = old
    assert clerk.get(f"/api/v1/cases/{case['id']}").json["attachments"] == []
    response = upload("申请表.pdf", b"%PDF-1.4 real enough")
    assert response.status_code == 201 and response.json[0]["filename"] == "申请表.pdf"
    assert error_of(api("clerk2").post(url, data={}, content_type="multipart/form-data"), 404)
