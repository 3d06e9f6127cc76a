"""Every process can be withdrawn by its unit until a bureau step has acted on it."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bianzhi import clock
from bianzhi.extensions import db
from bianzhi.ledger.models import Person, Reservation
from tests.fixtures.cases import CLERK1_UNIT, application


def _person_code():
    return db.session.scalar(select(Person.code).join(Person.unit).where(
        Person.status == "on_roll", Person.midlevel_post.is_(None)).where(
        Person.unit.has(code=CLERK1_UNIT)).limit(1))


def applications():
    today = clock.today()
    team = {"team_body": "党组（党委）会议", "team_date": (today - timedelta(days=2)).isoformat(),
            "team_decision": "同意"}
    line = {"category": "事业编制", "channel": "调任", "count": 1, "reason": "调任"}
    return {
        "vacancy_use": lambda: application(count=1),
        "annual_plan": lambda: dict(team, unit=CLERK1_UNIT, year=today.year + 1, lines=[line]),
        "extra_plan": lambda: dict(team, unit=CLERK1_UNIT, year=today.year, lines=[line]),
        "staff_exit": lambda: {"unit": CLERK1_UNIT, "person": _person_code(), "reason": "退休",
                               "exit_date": today.isoformat()},
        "midlevel_post": lambda: {"unit": CLERK1_UNIT, "action": "appoint", "person": _person_code(),
                                  "department": "业务一科", "level": "副职", "doc_no": "柯疾控〔2026〕1号",
                                  "effective_date": today.isoformat()},
        "temp_staff": lambda: {"unit": CLERK1_UNIT, "count": 1, "posts": "辅助", "start_date": today.isoformat(),
                               "end_date": (today + timedelta(days=200)).isoformat(), "funding": "财政拨款",
                               "reason": "临时任务"},
    }


@pytest.mark.parametrize("process", sorted(applications()))
def test_each_process_can_be_withdrawn_before_review(api, ctx, process):
    clerk = api("clerk1")
    assert process in {p["key"] for p in clerk.get("/api/v1/processes").json}
    response = clerk.post("/api/v1/cases", json={"process": process, "data": applications()[process]()})
    assert response.status_code == 201, response.json
    case = response.json
    response = clerk.post(f"/api/v1/cases/{case['id']}/withdraw")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "withdrawn" and response.json["tasks"] == []
    assert api("reviewer1").get("/api/v1/tasks").json == []
    assert db.session.scalar(select(Reservation).where(Reservation.case_id == case["id"],
                                                       Reservation.status == "active")) is None
