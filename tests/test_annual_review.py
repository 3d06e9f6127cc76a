"""年审: the bureau starts the review for 500 units at once (one case each, one transaction),
units confirm, the section accepts or returns, progress and overdue units are exact."""
import time
from datetime import datetime

from sqlalchemy import func, insert, select

from bianzhi import clock
from bianzhi.accounts.models import User
from bianzhi.accounts.operations import create_user
from bianzhi.cases import operations as cases
from bianzhi.cases.models import Case, OpenTask
from bianzhi.extensions import db
from bianzhi.ledger.models import Unit
from bianzhi.organisation.models import Office, Section
from bianzhi.review import operations as reviews
from bianzhi.review.models import AnnualReview, ReviewCase
from tests.conftest import PASSWORD, csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT

START = datetime(2026, 12, 1, 2, 0)  # Tuesday 10:00 in Beijing
DEADLINE = "2026-12-04"  # Friday
CONFIRM = {"unit_checked": True, "establishment_checked": True, "people_checked": True, "posts_checked": True}


def at(moment):
    return clock.use(lambda: moment)


def _keqiao():
    return db.session.scalar(select(Office).where(Office.code == "330603"))


def _add_units(n):
    """n more units of 柯桥 in one statement (a district of 500), 归口 to 事业编制科 (reviewer2)."""
    office = _keqiao()
    section = db.session.scalar(select(Section.id).where(Section.office_id == office.id, Section.code == "sy"))
    db.session.execute(insert(Unit), [{"code": f"12330621X{i:05d}000X", "name": f"测试事业单位{i:03d}",
                                       "kind": "事业单位", "funding": "全额", "office_id": office.id,
                                       "section_id": section} for i in range(n)])
    db.session.commit()


def _task_of(unit_code):
    db.session.expire_all()
    return db.session.scalar(select(OpenTask).join(Case, Case.id == OpenTask.case_id)
                             .join(Unit, Unit.id == Case.unit_id)
                             .where(Unit.code == unit_code, Case.process_key == "annual_review"))


def _complete(api_user, task_id, data):
    return api_user.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data})


def test_review_of_500_units_started_at_once_then_confirmed_accepted_returned(app, api):
    with app.app_context():
        _add_units(489)
        assert db.session.scalar(select(func.count()).select_from(Unit).where(Unit.office_id == _keqiao().id)) == 500
    reviewer = login(app.test_client(), "reviewer1")
    token = csrf_token(reviewer, "/review")
    with at(START):
        began = time.perf_counter()
        response = reviewer.post("/review/start", data={"csrf_token": token, "year": "2026", "deadline": DEADLINE})
        elapsed = time.perf_counter() - began
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        again = reviewer.post("/review/start", data={"csrf_token": token, "year": "2026", "deadline": DEADLINE})
        assert again.status_code == 409 and "2026 年度年审已于 2026-12-01 由周建华发起，不能重复发起" in again.get_data(as_text=True)
    print(f"annual review started for 500 units in {elapsed:.2f} s ({elapsed * 1000 / 500:.1f} ms per unit)")
    assert elapsed < 60

    with app.app_context():
        review = db.session.scalar(select(AnnualReview))
        assert (review.year, review.units, review.started_by.username) == (2026, 500, "reviewer1")
        assert db.session.scalar(select(func.count()).select_from(ReviewCase)) == 500
        assert db.session.scalar(select(func.count()).select_from(Case)
                                 .where(Case.process_key == "annual_review")) == 500
        numbers = db.session.scalars(select(Case.number).where(Case.process_key == "annual_review")).all()
        assert len(set(numbers)) == 500 and all(n.startswith("NS-") for n in numbers)
        tasks = db.session.scalars(select(OpenTask).join(Case).where(Case.process_key == "annual_review")).all()
        assert len(tasks) == 500 and {t.due_date.isoformat() for t in tasks} == {DEADLINE}
        assert {t.role for t in tasks} == {"unit_clerk"}
        extra = db.session.scalars(select(Unit).where(Unit.code.like("12330621X%")).order_by(Unit.code).limit(5)).all()
        extra_clerks = []
        for i, unit in enumerate(extra):
            user = create_user(f"rclerk{i}", PASSWORD, f"年审经办人{i}", ["unit_clerk"], unit)
            extra_clerks.append((user.id, unit.code))
        db.session.commit()

    clerk1, clerk2, rev, rev2 = api("clerk1"), api("clerk2"), api("reviewer1"), api("reviewer2")
    with at(datetime(2026, 12, 2, 2, 0)):
        with app.app_context():
            t1, t2 = _task_of(CLERK1_UNIT).id, _task_of(CLERK2_UNIT).id
        # clerk2 cannot confirm another unit's review; an unticked item needs a remark
        assert _complete(clerk2, t1, CONFIRM).status_code in (403, 404)
        unticked = _complete(clerk2, t2, {**CONFIRM, "posts_checked": False})
        assert unticked.status_code == 422 and "「领导职数与中层职数」未勾选核对无误" in unticked.json["error"]["message"]
        assert _complete(clerk1, t1, {**CONFIRM, "remarks": "已更正 2 人联系电话"}).status_code == 200
        assert _complete(clerk2, t2, {**CONFIRM, "posts_checked": False,
                                      "remarks": "中层副职实配与任免文件不符，请业务科室核实"}).status_code == 200
        with app.app_context():  # each unit's section accepts, the starter's too (the starter is the system)
            a1, a2 = _task_of(CLERK1_UNIT), _task_of(CLERK2_UNIT)
            assert (a1.bpmn_id, a1.role) == ("Task_accept", "reviewer")
            a1, a2 = a1.id, a2.id
        inbox = {t["id"] for t in rev.get("/api/v1/tasks?limit=100").json}
        assert a1 in inbox and a2 not in inbox  # the archive is 事业编制科's (reviewer2)
        assert a2 in {t["id"] for t in rev2.get("/api/v1/tasks?limit=100").json}
        assert _complete(rev, a1, {"decision": "approve"}).status_code == 200
        returned = _complete(rev2, a2, {"decision": "return", "opinion": "请附中层副职任免文件后再确认"})
        assert returned.status_code == 200
        # five more units: three confirm, two of them accepted
        with app.app_context():
            for user_id, code in extra_clerks[:3]:
                cases.complete_task(db.session.get(User, user_id), _task_of(code).id, CONFIRM)
            reviewer2 = db.session.scalar(select(User).where(User.username == "reviewer2"))
            for _user_id, code in extra_clerks[:2]:
                cases.complete_task(reviewer2, _task_of(code).id, {"decision": "approve"})
            db.session.commit()

    with app.app_context():
        review = reviews.get_review(2026)
        with at(datetime(2026, 12, 5, 2, 0)):  # Saturday after the deadline: no working day late yet
            saturday = reviews.progress(review)
        with at(datetime(2026, 12, 7, 2, 0)):  # Monday: one working day late
            monday = reviews.progress(review)
        with at(datetime(2026, 12, 8, 2, 0)):
            tuesday = reviews.progress(review)
    assert monday["counts"] == {"pending": 495, "returned": 1, "confirmed": 1, "accepted": 3}
    assert saturday["overdue"] == []
    assert len(monday["overdue"]) == 496 and {l["overdue_workdays"] for l in monday["overdue"]} == {1}
    assert {l["overdue_workdays"] for l in tuesday["overdue"]} == {2}
    overdue_codes = {l["unit_code"] for l in monday["overdue"]}
    assert CLERK2_UNIT in overdue_codes and CLERK1_UNIT not in overdue_codes
    status = {l["unit_code"]: l["status"] for l in monday["lines"]}
    assert status[CLERK1_UNIT] == "accepted" and status[CLERK2_UNIT] == "returned"
    assert [status[code] for _id, code in extra_clerks] == ["accepted", "accepted", "confirmed", "pending", "pending"]

    with at(datetime(2026, 12, 7, 2, 0)):
        page = reviewer.get("/review?year=2026").get_data(as_text=True)
        answer = api("leader1").get("/api/v1/reviews?year=2026").json
        assert api("clerk1").get("/api/v1/reviews?year=2026").status_code == 403
        assert api("leader1").get("/api/v1/reviews?year=2025").status_code == 404
        assert api("leader1").get("/api/v1/reviews?year=9223372036854775808").status_code == 422  # fuzz: was a 500
    assert "逾期未确认的单位（496 个）" in page and "2026 年度年审进度（500 个单位" in page
    assert answer["counts"] == monday["counts"] and answer["deadline"] == DEADLINE
    assert len(answer["overdue"]) == 496 and len(answer["lines"]) == 500


def test_units_cannot_start_a_review_and_clerks_cannot_start_it_for_all(app, api, client):
    clerk = api("clerk1")
    response = clerk.post("/api/v1/cases", json={"process": "annual_review", "data": CONFIRM})
    assert response.status_code == 403 and "由编办统一发起" in response.json["error"]["message"]
    assert "annual_review" not in {p["key"] for p in clerk.get("/api/v1/processes").json}
    login(client, "clerk1")
    assert "年审" not in client.get("/window").get_data(as_text=True)  # not among the services a unit starts
    refused = client.post("/review/start", data={"csrf_token": csrf_token(client, "/login"), "year": "2026",
                                                  "deadline": "2099-01-01"})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AnnualReview)) == 0


def test_bad_year_or_past_deadline_refused(app, client):
    login(client, "leader1")
    token = csrf_token(client, "/review")
    with at(START):
        past = client.post("/review/start", data={"csrf_token": token, "year": "2026", "deadline": "2026-11-30"})
        assert past.status_code == 422 and "不能早于今天" in past.get_data(as_text=True)
        bad = client.post("/review/start", data={"csrf_token": token, "year": "20x6", "deadline": DEADLINE})
        assert bad.status_code == 422 and "年度应为" in bad.get_data(as_text=True)
        ok = client.post("/review/start", data={"csrf_token": token, "year": "2026", "deadline": DEADLINE})
        assert ok.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(AnnualReview.units)) == 11  # the demo district's units


def test_unit_confirms_on_its_task_page_and_sees_its_people_to_correct(app):
    leader = login(app.test_client(), "leader1")
    with at(START):
        assert leader.post("/review/start", data={"csrf_token": csrf_token(leader, "/review"), "year": "2026",
                                                  "deadline": DEADLINE}).status_code == 302
    with app.app_context():
        task_id = _task_of(CLERK1_UNIT).id
    clerk = login(app.test_client(), "clerk1")
    inbox = clerk.get("/inbox").get_data(as_text=True)
    assert "2026年度机构编制年审" in inbox
    page = clerk.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "单位核对台账并确认" in page and "在编人员信息已逐人核对，有误的已更正" in page
    form = {"unit_checked": "on", "establishment_checked": "on", "people_checked": "on", "posts_checked": "on",
            "csrf_token": csrf_token(clerk, f"/tasks/{task_id}")}
    with at(datetime(2026, 12, 2, 2, 0)):
        done = clerk.post(f"/tasks/{task_id}", data=form)
    assert done.status_code == 302
    with at(datetime(2026, 12, 7, 2, 0)):
        progress = leader.get("/review?year=2026&status=confirmed").get_data(as_text=True)
    assert "已确认待验收" in progress and "逾期未确认的单位（10 个）" in progress
    with app.app_context():
        assert _task_of(CLERK1_UNIT).bpmn_id == "Task_accept"
