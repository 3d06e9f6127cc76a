"""Retirement ages under the gradual rule from 2025 (ledger/retirement.py), and the 业务提醒 list
of people reaching them."""
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bianzhi import clock
from bianzhi.extensions import db
from bianzhi.ledger import retirement
from bianzhi.ledger.models import Person
from tests.fixtures.pages import text_of, user_client


def test_design_worked_example_man_born_1965_01():
    ret = retirement.retirement(date(1965, 1, 15), "male")
    assert (ret.delay_months, ret.age_years, ret.age_months) == (1, 60, 1)
    assert (ret.year, ret.month) == (2025, 2) and ret.month_label == "2025-02"
    assert ret.age_label == "60 岁 1 个月" and ret.date == date(2025, 2, 15)


@pytest.mark.parametrize("born, group, age, month", [
    # before the rule: the old ages
    (date(1964, 12, 1), "male", "60 岁", "2024-12"),
    (date(1969, 12, 31), "female_cadre", "55 岁", "2024-12"),
    (date(1974, 12, 1), "female_worker", "50 岁", "2024-12"),
    # one month for every four months of birth (men, women cadres)
    (date(1965, 4, 1), "male", "60 岁 1 个月", "2025-05"),
    (date(1965, 5, 1), "male", "60 岁 2 个月", "2025-07"),
    (date(1970, 1, 1), "female_cadre", "55 岁 1 个月", "2025-02"),
    (date(1970, 9, 10), "female_cadre", "55 岁 3 个月", "2025-12"),
    # the caps: 63 from births in 1976-09, 58 from 1981-09
    (date(1976, 8, 1), "male", "62 岁 11 个月", "2039-07"),
    (date(1976, 9, 1), "male", "63 岁", "2039-09"),
    (date(1990, 6, 1), "male", "63 岁", "2053-06"),
    (date(1981, 9, 1), "female_cadre", "58 岁", "2039-09"),
    # women workers: one month for every two months, up to 55 (from births in 1984-11)
    (date(1975, 1, 1), "female_worker", "50 岁 1 个月", "2025-02"),
    (date(1975, 3, 1), "female_worker", "50 岁 2 个月", "2025-05"),
    (date(1984, 10, 1), "female_worker", "54 岁 11 个月", "2039-09"),
    (date(1984, 11, 1), "female_worker", "55 岁", "2039-11"),
])
def test_gradual_rule_table(born, group, age, month):
    ret = retirement.retirement(born, group)
    assert (ret.age_label, ret.month_label) == (age, month)


def test_birthday_on_the_31st_retires_on_the_last_day_of_a_short_month():
    ret = retirement.retirement(date(1965, 1, 31), "male")  # 2025-02 has no 31st
    assert ret.date == date(2025, 2, 28)


def test_groups_from_the_person_record():
    assert retirement.group_of("男", "工勤编制") == "male"
    assert retirement.group_of("女", "事业编制") == "female_cadre"
    assert retirement.group_of("女", "工勤编制") == "female_worker"
    assert retirement.group_of("女", "事业编制", "工勤") == "female_worker"
    with pytest.raises(ValueError):
        retirement.group_of("")


def test_months_until_and_the_query_window():
    ret = retirement.retirement(date(1966, 3, 1), "male")  # old month 2026-03: n = 15, delay 4
    assert ret.month_label == "2026-07"
    assert retirement.months_until(ret, date(2026, 1, 20)) == 6
    assert retirement.months_until(ret, date(2026, 8, 1)) == -1
    # the youngest retirement age is 50: nobody born after this can retire within 6 months
    assert retirement.latest_birth_date(date(2026, 1, 20), 6) == date(1976, 7, 31)


def test_reminders_page_lists_people_reaching_retirement(app, ctx):
    unit_id = db.session.scalar(select(Person.unit_id).where(Person.status == "on_roll").limit(1))
    sample, old = db.session.scalars(select(Person).where(Person.unit_id == unit_id, Person.status == "on_roll")
                                     .order_by(Person.id).limit(2)).all()
    sample.sex, sample.birth_date, sample.category = "男", date(1966, 3, 1), "事业编制"
    old.sex, old.birth_date, old.category, old.details = "女", date(1970, 6, 5), "事业编制", {"post_type": "工勤"}
    db.session.commit()
    old_name = old.name
    reviewer = user_client(app, "reviewer1")
    with clock.use(lambda: datetime(2026, 1, 20, 2, 0)):
        page = text_of(reviewer.get("/reminders?months=6"))
    assert f"{sample.name} 男 1966-03-01" in page and "60 岁 4 个月 2026-07" in page
    # a woman worker (post category 工勤) born 1970-06 was due at 50 in 2020-06: past, still on roll
    past = page[page.index("已到退休年龄仍在编"):]
    assert f"{old_name} 女 1970-06-05" in past and "50 岁 2020-06 已到龄" in past
    with clock.use(lambda: datetime(2025, 6, 1, 2, 0)):
        page = text_of(reviewer.get("/reminders?months=6"))
    assert f"{sample.name} 男 1966-03-01" not in page


@pytest.mark.parametrize("today, months", [(date(2024, 11, 15), 12), (date(2025, 1, 1), 1), (date(2026, 11, 27), 12),
                                           (date(2026, 11, 27), 0), (date(2030, 6, 30), 36), (date(2041, 3, 1), 120)])
def test_birth_ranges_hold_exactly_the_people_retiring_in_the_window(today, months):
    """Every birth month from 1940 to 2000, in every group: inside the range iff retiring in the window."""
    ranges = retirement.birth_ranges(today, months)
    for group in retirement.RULES:
        for year in range(1940, 2001):
            for month in range(1, 13):
                born = date(year, month, 28)
                left = retirement.months_until(retirement.retirement(born, group), today)
                inside = group in ranges and ranges[group][0] <= born <= ranges[group][1]
                assert inside == (0 <= left <= months), (group, born, today, months)


def test_the_standing_query_finds_whom_a_full_scan_finds(ctx):
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Person
    from bianzhi.reports.operations import retiring

    people = db.session.scalars(db.select(Person).where(Person.status == "on_roll")).all()
    for today, months in [(date(2026, 11, 27), 12), (date(2026, 11, 27), 60), (date(2030, 1, 1), 120)]:
        expected = {p.id for p in people if 0 <= retirement.months_until(retirement.of_person(p), today) <= months}
        assert {r.person.id for r in retiring(today, months)} == expected
        assert expected or months < 60  # the demo roll has people retiring within five years


def test_the_standing_query_tells_women_workers_from_cadres(ctx):
    """The query reads each group's births with that group's filter: a woman is a worker by her
    category (工勤编制) or by her post (details.post_type 工勤, also with no details at all)."""
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Person
    from bianzhi.reports.operations import retiring

    today = date(2026, 11, 27)

    def born_retiring_in_window(group):
        day = date(1960, 1, 15)
        while not 0 <= retirement.months_until(retirement.retirement(day, group), today) <= 12:
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 15)
        return day

    worker_born, cadre_born = born_retiring_in_window("female_worker"), born_retiring_in_window("female_cadre")
    people = db.session.scalars(db.select(Person).where(Person.status == "on_roll").order_by(Person.id)).all()[:5]
    plan = [("工勤编制", None, worker_born, True),           # worker by category
            ("事业编制", {"post_type": "工勤"}, worker_born, True),  # worker by post
            ("事业编制", None, cadre_born, True),            # cadre, no details
            ("事业编制", {"post_type": "专业技术"}, worker_born, False),  # a cadre born in the workers' range
            ("工勤编制", None, cadre_born, False)]            # a worker born in the cadres' range
    for person, (category, details, born, due) in zip(people, plan):
        person.sex, person.category, person.details, person.birth_date = "女", category, details, born
    db.session.flush()
    found = {r.person.id for r in retiring(today, 12)}
    assert [p.id in found for p in people] == [due for *_rest, due in plan]
