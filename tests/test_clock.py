"""One clock: `bianzhi.clock` is the only source of "now" and "today", and the platform's day is
Beijing's, whatever the machine's zone. Pinned at 23:30 Beijing on 31 December (15:30 UTC) and
00:30 on 1 January (16:30 UTC, still 31 December in UTC and in most of the world): case numbers,
the plan year a reservation draws on, exit lateness, statistics "today" and deadlines all follow
the Beijing date."""
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bianzhi import clock
from bianzhi.cases.models import OpenTask
from bianzhi.extensions import db
from bianzhi.ledger import exits
from bianzhi.ledger.models import ChronicleEntry
from bianzhi.workdays import add_workdays, is_workday
from tests.conftest import login
from tests.fixtures.people import people_of
from tests.fixtures.cases import CLERK1_UNIT, decide, only_task, start

ROOT = Path(__file__).resolve().parents[1]
YEAR = clock.today().year
LATE_EVENING = clock.at_local(date(YEAR, 12, 31), 23, 30)  # 15:30 UTC, 31 December
AFTER_MIDNIGHT = clock.at_local(date(YEAR + 1, 1, 1), 0, 30)  # 16:30 UTC, still 31 December in UTC

# "now" and "today" taken anywhere but the clock; `time.time()`/`perf_counter` measure durations
FORBIDDEN = re.compile(r"\b(?:date|datetime)\.(?:today|now|utcnow)\(|\butcnow\(|\bworkdays\.today\(|"
                       r"\btime\.(?:localtime|gmtime|ctime)\(|\btime\.strftime\(")


def pinned(moment):
    return clock.use(lambda: moment)


def test_only_the_clock_tells_the_time():
    offenders = []
    for folder in ("platform", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "clock.py" or path == Path(__file__).resolve():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if FORBIDDEN.search(line.split("#", 1)[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "use bianzhi.clock.now()/today():\n" + "\n".join(offenders)


def test_the_pins_fall_on_either_side_of_midnight_in_beijing_but_not_in_utc():
    assert (LATE_EVENING.date(), AFTER_MIDNIGHT.date()) == (date(YEAR, 12, 31), date(YEAR, 12, 31))
    with pinned(LATE_EVENING):
        assert clock.today() == date(YEAR, 12, 31)
    with pinned(AFTER_MIDNIGHT):
        assert clock.today() == date(YEAR + 1, 1, 1)


def test_case_numbers_carry_the_beijing_year(api):
    with pinned(LATE_EVENING):
        evening = start(api("clerk1"))
    with pinned(AFTER_MIDNIGHT):
        night = start(api("clerk1"))
    assert f"-{YEAR}-" in evening["number"]
    assert night["number"].endswith(f"-{YEAR + 1}-0001"), night["number"]


def test_a_recruitment_draws_on_the_plan_of_the_beijing_year(api):
    with pinned(AFTER_MIDNIGHT):
        refused = api("clerk1").post("/api/v1/cases", json={"process": "vacancy_use", "data": {
            "unit": CLERK1_UNIT, "category": "事业编制", "count": 1, "channel": "公开招聘",
            "reason": "新年第一天申请公开招聘，应当使用新一年的用编计划"}})
    assert refused.status_code == 422, refused.json
    message = refused.json["error"]["message"] + str(refused.json["error"]["fields"])
    assert f"{YEAR + 1}年度用编计划" in message and f"{YEAR}年度" not in message


def test_deadlines_count_from_the_beijing_day(api, ctx):
    for moment, day in ((LATE_EVENING, date(YEAR, 12, 31)), (AFTER_MIDNIGHT, date(YEAR + 1, 1, 1))):
        with pinned(moment):
            case = start(api("clerk1"))
        task = db.session.scalar(select(OpenTask).where(OpenTask.case_id == case["id"]))
        assert task.due_date == add_workdays(day, 5), (moment, task.due_date)  # 业务科室初审: 5 working days


def _monday_after_a_weekend():
    """The latest Monday up to today that is a working day after a day off: at 00:30 Beijing on it,
    UTC is still at 16:30 on the day off, one working day less."""
    day = clock.today()
    while not (day.weekday() == 0 and is_workday(day) and not is_workday(day - timedelta(days=1))):
        day -= timedelta(days=1)
    return day


def test_exit_lateness_counts_to_the_beijing_day(api, ctx):
    monday = _monday_after_a_weekend()
    person = people_of(holders=False)[0]
    exit_date = monday - timedelta(days=45)
    late_by = exits.workdays_late(exit_date, monday)
    assert late_by != exits.workdays_late(exit_date, monday - timedelta(days=1))
    with pinned(clock.at_local(monday, 0, 30)):
        clerk, reviewer = api("clerk1"), api("reviewer1")
        case = clerk.post("/api/v1/cases", json={"process": "staff_exit", "data": {
            "unit": CLERK1_UNIT, "person": person.code, "reason": "退休",
            "exit_date": exit_date.isoformat(), "notes": "已办理退休手续"}})
        assert case.status_code == 201, case.json
        assert decide(reviewer, only_task(case.json)).status_code == 200
    entry = db.session.scalar(select(ChronicleEntry).where(ChronicleEntry.case_id == case.json["id"]))
    assert entry.summary.endswith(f"逾期申报 {late_by} 个工作日"), entry.summary


def test_statistics_today_is_the_beijing_day(client):
    login(client, "reviewer1")
    with pinned(AFTER_MIDNIGHT):
        page = client.get(f"/statistics/ledger?date={YEAR + 1}-01-01")
        default = client.get("/statistics/ledger")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert "不能查询未来日期" not in page.get_data(as_text=True)
    assert f"{YEAR + 1}-01-01" in default.get_data(as_text=True)


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_the_platform_day_does_not_depend_on_the_machine_zone(zone):
    """The clock in a fresh interpreter under the machine zones furthest from Beijing."""
    code = ("from bianzhi import clock; from datetime import datetime;"
            "print(clock.today(), clock.local_date(datetime(2026, 12, 31, 16, 30)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"TZ": zone, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "platform")}).stdout.split()
    assert out[1] == "2027-01-01"
    assert out[0] == str(clock.today())
