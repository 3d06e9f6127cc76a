"""Deadlines in working days (weekends, the National Day holiday, make-up Saturdays), reminders
and escalations that fire once each at their time, two workers racing, and the boundary timer
that ends a case the unit left unanswered for 10 working days."""
import threading
from datetime import date
from types import SimpleNamespace

import pytest

from bianzhi.cases.models import Case
from bianzhi.extensions import db
from bianzhi.inbox import deadlines
from bianzhi.inbox.models import Job
from bianzhi.worker import Worker
from bianzhi.workdays import add_workdays, workdays_between
from tests.fixtures.cases import application, decide, only_task, start
from tests.fixtures.inbox import at, beijing, jobs, notes, read, run_worker
from tests.fixtures.pages import text_of, user_client


def test_working_days_across_weekend_national_day_and_make_up_days():
    assert add_workdays(date(2024, 11, 1), 1) == date(2024, 11, 4)    # Friday → Monday
    assert add_workdays(date(2024, 9, 27), 1) == date(2024, 9, 29)    # Sunday 29 September is worked
    assert add_workdays(date(2024, 9, 27), 5) == date(2024, 10, 10)   # 1–7 October off
    assert add_workdays(date(2024, 10, 9), 3) == date(2024, 10, 12)   # Saturday 12 October is worked
    assert add_workdays(date(2024, 10, 8), -1) == date(2024, 9, 30)   # backwards over the holiday
    assert add_workdays(date(2024, 10, 14), -2) == date(2024, 10, 11)
    assert workdays_between(date(2024, 9, 27), date(2024, 10, 10)) == 5
    assert add_workdays(date(2024, 9, 27), 0) == date(2024, 9, 27)


def test_steps_get_due_dates_in_working_days(api):
    with at(beijing(2024, 9, 27)):
        case = start(api("clerk1"))
    assert case["tasks"][0]["due"] == "2024-10-10"  # 业务科室初审: 5 working days
    with at(beijing(2024, 10, 9)):
        after = decide(api("reviewer1"), only_task(case)).json
    assert [t["due"] for t in after["tasks"]] == ["2024-10-12"]  # 分管领导审核: 3 days, the make-up Saturday


def test_reminder_and_escalation_fire_once_each_at_their_time(app, api):
    with at(beijing(2024, 9, 27)):
        case = start(api("clerk1"))
    task_id, number = only_task(case), case["number"]
    remind, escalate = jobs(app, "remind"), jobs(app, "escalate")
    assert [(j.task_id, j.run_at) for j in remind] == [(task_id, beijing(2024, 10, 9, 9))]  # the day before
    assert [(j.task_id, j.run_at) for j in escalate] == [(task_id, beijing(2024, 10, 11, 9))]  # first day after

    assert run_worker(app, beijing(2024, 10, 9, 8, 59)) == 0
    assert notes(app, "reviewer1") == []
    assert run_worker(app, beijing(2024, 10, 9, 9, 0)) == 1
    reminder = ("remind", f"到期提醒：「{number} 业务科室初审」将于 2024-10-10 到期")
    assert notes(app, "reviewer1") == [reminder] and notes(app, "reviewer2") == [reminder]
    assert notes(app, "clerk1") == [] and notes(app, "leader1") == []
    assert run_worker(app, beijing(2024, 10, 10, 23, 0)) == 0  # never twice; not yet escalated

    assert run_worker(app, beijing(2024, 10, 11, 9, 0)) == 1
    assert notes(app, "leader1") == [("escalate", f"超期督办：「{number} 业务科室初审」已超过办理期限 2024-10-10")]
    assert notes(app, "reviewer1", "escalate") == [("escalate", f"已超期：「{number} 业务科室初审」办理期限为 2024-10-10")]
    assert run_worker(app, beijing(2024, 10, 14, 9, 0)) == 0
    assert [j.status for j in jobs(app)] == ["done", "done"]

    with at(beijing(2024, 10, 11, 10)):
        task = api("reviewer1").get(f"/api/v1/tasks/{task_id}").json
        assert (task["due_state"], task["escalated"]) == ("overdue", True)
        assert api("clerk1").get(f"/api/v1/cases/{case['id']}").json["overdue"] is True
        case_page = text_of(user_client(app, "clerk1").get(f"/cases/{case['id']}"))
        inbox = text_of(user_client(app, "reviewer1").get("/inbox"))
    assert f"案件 {number} 已超期" in case_page
    assert "2024-10-10 已超期 已督办" in inbox


def test_a_done_step_cancels_its_reminders_and_the_next_step_gets_its_own(app, api):
    with at(beijing(2024, 9, 27)):
        case = start(api("clerk1"))
    with at(beijing(2024, 9, 30, 15)):
        after = decide(api("reviewer1"), only_task(case)).json
    leader_task = only_task(after)
    assert after["tasks"][0]["due"] == "2024-10-10"  # 8, 9, 10 October
    assert {(j.kind, j.status) for j in jobs(app) if j.task_id != leader_task} == {("remind", "cancelled"),
                                                                                ("escalate", "cancelled")}
    assert run_worker(app, beijing(2024, 10, 9, 9)) == 1
    assert notes(app, "reviewer1") == [] and [k for k, _ in notes(app, "leader1")] == ["remind"]


def test_thresholds_come_from_policy_and_the_diagram_step(app):
    """REMIND_WORKDAYS_BEFORE / ESCALATE_AFTER_WORKDAYS by default; a step's properties
    remind_workdays_before / escalate_after_workdays override them; a reminder whose moment has
    passed when the step arrives is not scheduled."""
    task = SimpleNamespace(id="t1", case_id=1, due_date=date(2024, 10, 12))  # the make-up Saturday
    plain = {}
    with app.app_context():
        rows = deadlines.deadline_jobs(task, plain, beijing(2024, 10, 8))
        assert [(r["kind"], r["run_at"]) for r in rows] == [("remind", beijing(2024, 10, 11, 9)),
                                                            ("escalate", beijing(2024, 10, 14, 9))]
        custom = {"remind_workdays_before": "3", "escalate_after_workdays": "0"}
        rows = deadlines.deadline_jobs(task, custom, beijing(2024, 10, 8))
        assert [(r["kind"], r["run_at"]) for r in rows] == [("remind", beijing(2024, 10, 9, 9)),
                                                            ("escalate", beijing(2024, 10, 13, 0))]
        rows = deadlines.deadline_jobs(task, custom, beijing(2024, 10, 9, 9, 30))  # arrived after it
        assert [r["kind"] for r in rows] == ["escalate"]
        assert deadlines.deadline_jobs(SimpleNamespace(id="t2", case_id=1, due_date=None), plain,
                                       beijing(2024, 10, 8)) == []


def _race(app, when, n=2):
    barrier, results = threading.Barrier(n), [None] * n

    def work(i):
        barrier.wait()
        results[i] = Worker(app, clock=lambda: when, name=f"w{i}").run_once()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.commits  # worker threads, each on a connection of its own
def test_two_workers_racing_fire_each_reminder_and_escalation_once(app, api):
    """On PostgreSQL the jobs are claimed with FOR UPDATE SKIP LOCKED; each worker thread has its
    own connection. On SQLite the two are serialized by BEGIN IMMEDIATE."""
    clerk = api("clerk1")
    with at(beijing(2024, 9, 27)):
        numbers = [start(clerk, count=1)["number"] for _ in range(6)]
    results = _race(app, beijing(2024, 10, 11, 9, 30))
    assert sum(results) == 12, results  # 6 reminders + 6 escalations, each run by one worker
    assert len(notes(app, "reviewer1", "remind")) == 6 and len(notes(app, "reviewer2", "remind")) == 6
    assert sorted(t for _, t in notes(app, "leader1", "escalate")) == sorted(
        f"超期督办：「{n} 业务科室初审」已超过办理期限 2024-10-10" for n in numbers)
    assert {j.status for j in jobs(app)} == {"done"} and all(j.attempts == 1 for j in jobs(app))
    assert _race(app, beijing(2024, 10, 12, 9)) == [0, 0]


# --- the boundary timer on 填写空编使用申请 (vacancy_use): 10 working days to answer a return ---

def _returned_case(api, when):
    with at(when):
        case = start(api("clerk1"))
        return decide(api("reviewer1"), only_task(case), "return", "请补充主管部门审核意见").json


def test_a_return_left_unanswered_for_ten_working_days_ends_the_case(app, api):
    returned = _returned_case(api, beijing(2024, 9, 27, 11))
    assert returned["tasks"][0]["due"] == "2024-10-16"
    timers = jobs(app, "timer")
    # 10 working days from Friday 27 September: 29, 30 Sep, 8–12 Oct (Sat 12 worked), 14–16 Oct
    assert [(j.case_id, j.run_at) for j in timers] == [(returned["id"], beijing(2024, 10, 17, 0, 0))]

    assert run_worker(app, beijing(2024, 10, 16, 23, 59)) == 1  # only the clerk's reminder (15 Oct)
    assert read(app, lambda: db.session.get(Case, returned["id"]).state) == "running"
    assert run_worker(app, beijing(2024, 10, 17, 0, 0)) == 1
    case = api("clerk1").get(f"/api/v1/cases/{returned['id']}").json
    assert case["state"] == "withdrawn" and case["tasks"] == []
    assert [(h["step"], h["decision"], h["by"]) for h in case["history"]][-1] == ("逾期未补正", "timeout", "系统（自动）")
    assert ("case", f"案件已办结：「{case['number']}」已撤回") in notes(app, "clerk1")
    assert {j.kind: j.status for j in jobs(app, case_id=case["id"])} == {"remind": "done", "escalate": "cancelled",
                                                                     "timer": "done"}
    assert run_worker(app, beijing(2024, 10, 25, 9)) == 0
    page = text_of(user_client(app, "clerk1").get(f"/cases/{case['id']}"))
    assert "逾期未补正 系统（自动） 逾期自动办结" in page


def test_answering_the_return_in_time_cancels_the_timer(app, api):
    returned = _returned_case(api, beijing(2024, 9, 27, 11))
    with at(beijing(2024, 10, 16, 17)):  # the last working day
        answered = api("clerk1").post(f"/api/v1/tasks/{only_task(returned)}/complete",
                                      json={"data": application(reason="已补充主管部门审核意见")})
    assert answered.status_code == 200, answered.json
    assert [j.status for j in jobs(app, "timer")] == ["cancelled"]
    run_worker(app, beijing(2024, 10, 17, 0, 0))
    case = api("clerk1").get(f"/api/v1/cases/{returned['id']}").json
    assert case["state"] == "running" and [t["name"] for t in case["tasks"]] == ["业务科室初审"]


def test_a_timer_whose_task_was_done_meanwhile_is_skipped(app, api):
    """A timer job that lost its race with the unit (the row was not yet cancelled) does nothing."""
    returned = _returned_case(api, beijing(2024, 9, 27, 11))
    timer = jobs(app, "timer")[0]
    with at(beijing(2024, 10, 8)):
        api("clerk1").post(f"/api/v1/tasks/{only_task(returned)}/complete", json={"data": application()})
    with app.app_context():
        db.session.execute(Job.__table__.update().where(Job.id == timer.id).values(status="pending"))
        db.session.commit()
        db.session.remove()
    assert run_worker(app, beijing(2024, 10, 17, 0, 0)) == 3  # the timer, and the new review's two
    assert read(app, lambda: db.session.get(Job, timer.id).last_error).startswith("已无需执行")
    assert read(app, lambda: db.session.get(Case, returned["id"]).state) == "running"
