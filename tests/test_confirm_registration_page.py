"""落编确认: the reviewer confirming a registration sees the people the unit put on the roll
(name, ID number as the privacy rules show it, sex and birth date from it, entry date, and which
key fields each record lacks), the step is recorded as 确认落编, and the application's unit is
named, not only coded."""
import re

from bianzhi.ledger import idnumber
from bianzhi.ledger.privacy import mask_id_number

from tests.fixtures.cases import (
    CLERK1_UNIT,
    approve_through,
    decide,
    only_task,
    person,
    start,
)
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


def test_confirm_page_shows_the_registered_people(app, api):
    case, people, _reviewer = _up_to_confirm(api)
    confirm_task = only_task(case)
    page = user_client(app, "reviewer1").get(f"/tasks/{confirm_task}")
    assert page.status_code == 200
    text = text_of(page)
    assert "待确认的落编人员" in text
    first, second = people
    # 业务科室 sees ID numbers in full (ledger/privacy.py); sex and birth date come from the number
    info = idnumber.parse(first["id_number"])
    assert (f"测试1 {first['id_number']} {info.sex} {info.birth_date} 2026-11-20 大学本科 检验技师 齐全"
            in text), text
    assert f"王小二 {second['id_number']}" in text and "2026-12-01" in text
    assert "缺 学历、职务" in text


def test_people_are_masked_for_a_reader_without_the_full_id_right(app, api):
    case, people, _reviewer = _up_to_confirm(api)
    page = user_client(app, "leader1").get(f"/cases/{case['id']}")
    assert page.status_code == 200
    text = text_of(page)
    assert "待确认的落编人员" in text
    for record in people:
        assert record["name"] in text and mask_id_number(record["id_number"]) in text
        assert record["id_number"] not in text
    assert "2026-11-20" in text and "2026-12-01" in text


def test_confirmation_is_recorded_as_confirm_registration(app, api):
    case, _people, reviewer = _up_to_confirm(api)
    response = decide(reviewer, only_task(case), "approve", "材料齐全")
    assert response.status_code == 200, response.json
    text = text_of(user_client(app, "reviewer1").get(f"/cases/{case['id']}"))
    assert re.search(r"落编确认 \S+ 确认落编 材料齐全", text), text
    assert re.search(r"业务科室初审 \S+ 同意", text)  # the review's own form says 同意
    assert "待确认的落编人员" not in text  # on the roll now: the case's people panel shows them
    assert "测试1" in text and "王小二" in text


def test_returned_registration_is_not_shown_as_waiting(app, api):
    case, _people, reviewer = _up_to_confirm(api)
    response = decide(reviewer, only_task(case), "return", "入编时间有误")
    assert response.status_code == 200, response.json
    page = user_client(app, "clerk1").get(f"/tasks/{only_task(response.json)}")
    assert page.status_code == 200 and "落编登记" in text_of(page)
    assert "待确认的落编人员" not in text_of(page)


def test_task_answer_names_the_unit(app, api):
    case, _people, reviewer = _up_to_confirm(api)
    answer = reviewer.get(f"/api/v1/tasks/{only_task(case)}").json
    assert answer["unit"] == CLERK1_UNIT and answer["unit_name"] == "绍兴市柯桥区疾病预防控制中心"


def test_unit_forms_name_the_applying_unit_beside_its_code(app, api):
    clerk = user_client(app, "clerk1")
    page = clerk.get("/window/start/vacancy_use").get_data(as_text=True)
    assert f'value="{CLERK1_UNIT}" readonly' in page
    assert '<div class="hint unit-name">绍兴市柯桥区疾病预防控制中心</div>' in page
    case = start(api("clerk1"))
    response = decide(api("reviewer1"), only_task(case), "return", "请补充申请理由")
    assert response.status_code == 200, response.json
    page = clerk.get(f"/tasks/{only_task(response.json)}").get_data(as_text=True)
    assert f'value="{CLERK1_UNIT}" readonly' in page
    assert '<div class="hint unit-name">绍兴市柯桥区疾病预防控制中心</div>' in page
