"""The vacancy-use → registration journey through the JSON API, with its ledger effects."""
from bianzhi import clock
from tests.fixtures.cases import CLERK1_UNIT, approve_through, decide, only_task, person, start


def figures(api_user, unit=CLERK1_UNIT, category="事业编制"):
    response = api_user.get(f"/api/v1/units/{unit}/establishment")
    assert response.status_code == 200, response.json
    return next(f for f in response.json if f["category"] == category)


def test_full_journey(api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    assert clerk.get("/api/v1/me").json == {"username": "clerk1", "name": "钱晓峰", "roles": ["unit_clerk"],
                                            "unit": CLERK1_UNIT, "department": None, "sections": [],
                                            "office": {"code": "330603", "name": "柯桥区委编办", "level": "county"}}
    assert {"key": "vacancy_use", "name": "空编使用", "version": 1} in clerk.get("/api/v1/processes").json
    before = figures(clerk)
    assert before["vacancy"] == 7 and before["warning"] == "green"

    case = start(clerk)
    assert case["number"].startswith("KBSY-") and case["number"].endswith("-0001")
    assert case["state"] == "running"
    inbox = reviewer.get("/api/v1/tasks").json
    assert [t["case_id"] for t in inbox] == [case["id"]]
    assert set(inbox[0]) >= {"id", "case_id", "name", "lane", "due"} and inbox[0]["lane"] == "业务科室"
    assert clerk.get("/api/v1/tasks").json == []

    case = approve_through(reviewer, leader, case)
    assert case["state"] == "approved"
    after = figures(clerk)
    assert (after["reserved"], after["vacancy"]) == (2, 5)
    notices = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [n["title"] for n in notices] == ["空编使用审核表"]

    task = only_task(case)
    assert clerk.get("/api/v1/tasks").json[0]["id"] == task
    response = clerk.post(f"/api/v1/tasks/{task}/complete", json={"data": {"people": [person(1), person(2)]}})
    assert response.status_code == 200, response.json
    response = decide(reviewer, only_task(response.json), "approve", "材料齐全，同意落编")
    assert response.status_code == 200, response.json
    case = response.json
    assert case["state"] == "completed" and case["tasks"] == []
    assert [(h["step"], h["decision"]) for h in case["history"]] == [
        ("填写空编使用申请", "submit"), ("业务科室初审", "approve"), ("分管领导审核", "approve"),
        ("落编登记", "submit"), ("落编确认", "approve")]
    done = figures(clerk)
    assert (done["on_roll"], done["reserved"], done["vacancy"]) == (35, 0, 5)
    titles = [n["title"] for n in clerk.get(f"/api/v1/cases/{case['id']}/notices").json]
    assert titles == ["空编使用审核表", "落编登记表"]


def test_return_for_correction_and_resubmit(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk, count=1)
    response = decide(reviewer, only_task(case), "return", "请补充编制使用申请表扫描件")
    assert response.status_code == 200
    case = response.json
    assert case["tasks"][0]["lane"] == "单位经办人"
    task = only_task(case)
    response = clerk.post(f"/api/v1/tasks/{task}/complete", json={"data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "count": 2, "channel": "选调", "reason": "已补充材料"}})
    assert response.status_code == 200, response.json
    case = response.json
    assert case["data"]["count"] == 2 and case["tasks"][0]["lane"] == "业务科室"
    assert [h["decision"] for h in case["history"]] == ["submit", "return", "submit"]
    assert case["history"][1]["opinion"] == "请补充编制使用申请表扫描件"


def test_reject_ends_case_and_reserves_nothing(api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = start(clerk)
    response = decide(reviewer, only_task(case))
    response = decide(leader, only_task(response.json), "reject", "本年度已无用编计划")
    assert response.status_code == 200
    assert response.json["state"] == "rejected" and response.json["tasks"] == []
    assert figures(clerk)["reserved"] == 0
    assert clerk.get(f"/api/v1/cases/{case['id']}").json["state"] == "rejected"


def test_chronicle_records_both_changes_with_case_number(api, ctx):
    from sqlalchemy import select

    from bianzhi.extensions import db
    from bianzhi.ledger.models import ChronicleEntry

    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk, count=1))
    clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": [person(3)]}})
    decide(reviewer, only_task(clerk.get(f"/api/v1/cases/{case['id']}").json))
    entries = db.session.scalars(select(ChronicleEntry).order_by(ChronicleEntry.id)).all()
    assert [(e.entity, e.action) for e in entries] == [("reservation", "reserve"), ("person", "register"),
                                                       ("reservation", "consume")]
    assert all(e.case_id == case["id"] and case["number"] in e.summary for e in entries)
    assert entries[0].user.username == "leader1" and entries[1].user.username == "reviewer1"


def test_openapi_describes_the_contract(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/tokens", "/api/v1/me", "/api/v1/offices", "/api/v1/processes", "/api/v1/cases", "/api/v1/cases/{case_id}",
                 "/api/v1/tasks", "/api/v1/tasks/{task_id}/complete", "/api/v1/cases/{case_id}/notices",
                 "/api/v1/units/{code}/establishment"):
        assert path in spec["paths"], path


def test_withdraw_before_review(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    assert api("clerk2").post(f"/api/v1/cases/{case['id']}/withdraw").status_code == 404
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "withdrawn" and response.json["tasks"] == []
    assert response.json["history"][-1]["decision"] == "withdraw"
    assert reviewer.get("/api/v1/tasks").json == []
    again = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert again.status_code == 409 and again.json["error"]["message"] == "案件已撤回，不能撤回"


def test_withdraw_refused_once_reviewed(api):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    decide(reviewer, only_task(case), "return", "请补充材料")
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "already_reviewed"
    assert clerk.get(f"/api/v1/cases/{case['id']}").json["state"] == "running"


def test_ledger_on_a_past_date_is_replayed_from_the_chronicle(api, ctx):
    from bianzhi.ledger import operations as ledger
    from bianzhi.ledger.history import figures_as_of

    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    unit = ledger.unit_by_code(CLERK1_UNIT)
    snapshots = [(clock.now(), ledger.figures(unit))]
    case = approve_through(reviewer, leader, start(clerk, count=3))
    snapshots.append((clock.now(), ledger.figures(unit)))
    clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": [person(4), person(5)]}})
    decide(reviewer, only_task(clerk.get(f"/api/v1/cases/{case['id']}").json))
    snapshots.append((clock.now(), ledger.figures(unit)))
    approve_through(reviewer, leader, start(clerk, count=1))
    snapshots.append((clock.now(), ledger.figures(unit)))
    assert [s[1][0]["vacancy"] for s in snapshots] == [7, 4, 5, 4]
    for moment, expected in snapshots:
        assert figures_as_of(unit, moment) == expected
