"""落编确认: the reviewer confirming a registration sees the people the unit put on the roll
(name, ID number as the privacy rules show it, sex and birth date from it, entry date, and which
key fields each record lacks), the step is recorded as 确认落编, and the application's unit is
named, not only coded."""
import re

from bianzhi.ledger import idnumber
from bianzhi.ledger.privacy import mask_id_number
from tests.fixtures.cases import CLERK1_UNIT, approve_through, decide, only_task, person, start
from tests.fixtures.pages import text_of, user_client


def _up_to_confirm(api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk))
    people = [person(1, entry_date="2026-11-20"),
              person(2, name="王小二", entry_date="2026-12-01", education=None, post=None)]
    people[1] = {k: v for k, v in people[1].items() if v is not None}  # no education, no post
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": people}})
    assert response.status_code == 200, response.json
    return response.json, people, reviewer


def test_confirmation_is_recorded_as_confirm_registration(app, api):
    case, people, reviewer = _up_to_confirm(api)
    response = decide(reviewer, only_task(case), "approve", "材料齐全")
    assert response.status_code == 200, response.json
    text = text_of(user_client(app, "reviewer1").get(f"/cases/{case['id']}"))
    assert re.search(r"落编确认 \S+ 确认落编 材料齐全", text), text
    assert re.search(r"业务科室初审 \S+ 同意", text)  # the review's own form says 同意
    assert "测试1" in text and "王小二" in text
