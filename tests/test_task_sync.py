"""One function turns the engine's ready tasks into open-task rows (cases.sync), whoever moved
the engine, and the tasks_synced signal carries plain data: no listener gets the engine's Run."""
import dataclasses
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bianzhi import clock
from bianzhi.accounts.models import User
from bianzhi.cases import sync
from bianzhi.cases.models import OpenTask
from bianzhi.cases.signals import tasks_synced
from bianzhi.extensions import db
from bianzhi.review import operations as reviews
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.inbox import at, beijing

PLAIN = (str, int, date, datetime, type(None), tuple)


@pytest.fixture
def heard():
    """Every tasks_synced the test causes: ((case id, process key), kwargs)."""
    calls = []

    def listen(sender, **kwargs):
        calls.append(((sender.id, sender.process_key), {**kwargs, "user": kwargs["user"].username}))

    tasks_synced.connect(listen)
    yield calls
    tasks_synced.disconnect(listen)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    if hasattr(value, "items"):  # the diagram step's properties
        return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return isinstance(value, PLAIN)


def test_tasks_synced_carries_plain_data_not_the_engine_run(api, heard):
    with at(beijing(2024, 9, 27)):
        case = start(api("clerk1"))
    with at(beijing(2024, 9, 30, 15)):
        after = decide(api("reviewer1"), only_task(case)).json
    assert len(heard) == 2
    (_, first), (sender, second) = heard
    assert sender == (case["id"], "vacancy_use")
    assert set(second) == {"user", "opened", "closed", "open_ids", "timers"}
    assert second["user"] == "reviewer1"
    assert all(_plain(v) for k, v in second.items() if k != "user")
    assert second["closed"] == (only_task(case),) and second["open_ids"] == (only_task(after),)
    (leader,) = second["opened"]
    assert (leader.id, leader.bpmn_id, leader.name, leader.role, leader.due_date) == (
        only_task(after), "Task_leader", "分管领导审核", "leader", date(2024, 10, 10))
    assert leader.properties["deadline_days"] == "3" and second["timers"] == ()
    (review,) = first["opened"]
    assert first["closed"] == () and review.due_date == date(2024, 10, 10)


def test_every_path_that_opens_steps_goes_through_cases_sync(app, api, monkeypatch, heard):
    """A new case, a completion, the annual review's bulk start: one function makes the rows,
    and the review's unit step is due on the review's deadline."""
    real, callers = sync.changes, []

    def spy(case, run, *args, **kwargs):
        callers.append(case.process_key)
        return real(case, run, *args, **kwargs)

    monkeypatch.setattr(sync, "changes", spy)
    case = start(api("clerk1"))
    decide(api("reviewer1"), only_task(case))
    assert callers == ["vacancy_use", "vacancy_use"]
    with app.app_context(), clock.use(lambda: datetime(2026, 12, 1, 2, 0)):
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        review = reviews.start_review(reviewer, 2026, "2026-12-04")
        db.session.commit()
        units = review.units
        rows = db.session.scalars(select(OpenTask).where(OpenTask.bpmn_id == "Task_check")).all()
    assert callers.count("annual_review") == units and len(rows) == units
    assert {(r.due_date, r.sort_due) for r in rows} == {(date(2026, 12, 4), date(2026, 12, 4))}
    review_heard = [kw for s, kw in heard if s[1] == "annual_review"]
    assert len(review_heard) == units
    assert all(kw["opened"][0].due_date == date(2026, 12, 4) for kw in review_heard)
