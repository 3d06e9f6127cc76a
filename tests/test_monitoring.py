"""审批监测 on a scripted November 2024 (no holidays that month): six vacancy-use cases with known
timings — two approved at the first pass, one returned once and then approved, one rejected a
working day after its limit, one still waiting past its limit, one withdrawn — and the figures
checked exactly: started, finished, median and p90 working days, overdue, return and first-pass
rates, per process, step, unit and month; the cases behind each figure; a clerk's scope; the
JSON API; the audited export."""
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bianzhi.audit.models import AuditEntry
from bianzhi.cases.models import Case
from bianzhi.extensions import db
from bianzhi.statistics.monitoring import p90
from tests.fixtures.browser import chromium, live_server, login, shot
from tests.fixtures.cases import CLERK2_UNIT, application, decide, only_task, person
from tests.fixtures.inbox import at, beijing, read
from tests.fixtures.pages import user_client
from tests.fixtures.statistics import table

PERIOD = "from=2024-11-01&to=2024-11-30"
REPORT_DAY = beijing(2024, 11, 29)


class Script:
    """Drives cases through the API at given Beijing days (10:00 unless said) and stamps each
    case's start and finish at those moments: the platform stamps cases with the wall clock,
    steps and deadlines with bianzhi.clock, which the test sets."""

    def __init__(self, app, api):
        self.app, self.api, self.times = app, api, {}

    def call(self, day, username, fn):
        with at(beijing(2024, 11, day)):
            return fn(self.api(username))

    def start(self, day, clerk="clerk1", **overrides):
        overrides.setdefault("count", 1)
        case = self.call(day, clerk, lambda c: c.post("/api/v1/cases", json={"process": "vacancy_use",
                                                                               "data": application(**overrides)}))
        assert case.status_code == 201, case.json
        self.times[case.json["id"]] = [beijing(2024, 11, day), None]
        return case.json

    def act(self, day, username, case, data):
        response = self.call(day, username, lambda c: c.post(f"/api/v1/tasks/{only_task(case)}/complete",
                                                             json={"data": data}))
        assert response.status_code == 200, response.json
        if response.json["state"] in ("completed", "rejected", "withdrawn"):
            self.times[case["id"]][1] = beijing(2024, 11, day, 11)
        return response.json

    def decide(self, day, username, case, decision="approve"):
        return self.act(day, username, case, {"decision": decision, "opinion": "意见"})

    def withdraw(self, day, case):
        response = self.call(day, "clerk1", lambda c: c.post(f"/api/v1/cases/{case['id']}/withdraw"))
        assert response.status_code == 200, response.json
        self.times[case["id"]][1] = beijing(2024, 11, day, 11)

    def stamp(self):
        def fn():
            for case_id, (started, finished) in self.times.items():
                db.session.execute(update(Case).where(Case.id == case_id)
                                   .values(created_at=started, finished_at=finished))
            db.session.commit()
        read(self.app, fn)


@pytest.fixture
def november(app, api):
    """The scripted month; returns {name: case number}."""
    s = Script(app, api)
    a = s.start(4)  # A: first pass, 4 working days (4 → 8 November)
    a = s.decide(5, "reviewer1", a)
    a = s.decide(6, "leader1", a)
    a = s.act(7, "clerk1", a, {"people": [person(11)]})
    s.decide(8, "reviewer1", a)
    b = s.start(4)  # B: returned once, then approved; 6 working days (4 → 12 November)
    b = s.decide(5, "reviewer1", b, "return")
    b = s.act(6, "clerk1", b, application(reason="已补充主管部门审核意见"))
    b = s.decide(7, "reviewer2", b)
    b = s.decide(8, "leader1", b)
    b = s.act(11, "clerk1", b, {"people": [person(12)]})
    s.decide(12, "reviewer2", b)
    c = s.start(4)  # C: rejected on 14 November, the review being due on 11 November; 8 working days
    s.decide(14, "reviewer1", c, "reject")
    d = s.start(4)  # D: the review, due 11 November, still waiting on the 29th
    e = s.start(5)  # E: withdrawn the day it was filed
    s.withdraw(5, e)
    f = s.start(5, clerk="clerk2", unit=CLERK2_UNIT)  # F: the archive's, first pass, 2 working days
    f = s.decide(5, "reviewer2", f)  # clerk2's unit is 归口 to 事业编制科 (reviewer2)
    f = s.decide(6, "leader1", f)
    f = s.act(6, "clerk2", f, {"people": [person(13)]})
    s.decide(7, "reviewer2", f)
    s.stamp()
    return {"A": a["number"], "B": b["number"], "C": c["number"], "D": d["number"], "E": e["number"],
            "F": f["number"]}


def figures(api, username, query=PERIOD):
    with at(REPORT_DAY):
        response = api(username).get(f"/api/v1/monitoring?{query}")
    assert response.status_code == 200, response.json
    return response.json


def test_p90_is_the_nearest_rank():
    assert p90([2, 4, 6, 8]) == 8  # ceil(0.9 × 4) = 4th
    assert p90(list(range(1, 11))) == 9  # ceil(0.9 × 10) = 9th
    assert p90([5]) == 5 and p90([]) is None


def test_the_district_figures_of_the_scripted_month(app, api, november):
    body = figures(api, "leader1")
    # durations of the finished cases: F 2, A 4, B 6, C 8 working days
    # steps with a limit: A 4, B 6 (review, correction, review, leader, registration, confirmation),
    # C 1, D 1, E 1, F 4 = 17, of which C's review (done late) and D's (still open) are overdue
    total = {"started": 6, "finished": 4, "withdrawn": 1, "median_workdays": 5, "p90_workdays": 8,
             "steps_with_limit": 17, "overdue": 2, "overdue_rate": round(2 / 17, 4), "returned": 1,
             "return_rate": 0.25, "first_pass": 2, "first_pass_rate": 0.5}
    assert body["total"] == total
    assert [(r["process"], r["started"]) for r in body["by_process"]] == [("vacancy_use", 6)]
    assert body["by_process"][0] | {"process": None, "name": None} == total | {"process": None, "name": None}
    assert body["by_month"] == [{"month": "2024-11", **total}]
    units = {r["unit"]: r for r in body["by_unit"]}
    assert units[CLERK2_UNIT] | {"unit": 0, "name": 0} == {
        "unit": 0, "name": 0, "started": 1, "finished": 1, "withdrawn": 0, "median_workdays": 2, "p90_workdays": 2,
        "steps_with_limit": 4, "overdue": 0, "overdue_rate": 0.0, "returned": 0, "return_rate": 0.0, "first_pass": 1,
        "first_pass_rate": 1.0}
    steps = {r["step"]: r for r in body["by_step"]}
    # 业务科室初审 opened 7 times (B twice); done after 1 (A), 1, 1 (B), 8 (C), 0 (E, withdrawn), 0 (F) working
    # days; decisions: approve A, return B, approve B, reject C, approve F
    assert steps["Task_review"] == {
        "process": "vacancy_use", "process_name": "空编使用", "step": "Task_review", "name": "业务科室初审", "opened": 7,
        "closed": 6, "median_workdays": 1, "p90_workdays": 8, "steps_with_limit": 7, "overdue": 2,
        "overdue_rate": round(2 / 7, 4), "decided": 5, "returned": 1, "return_rate": 0.2}
    assert (steps["Task_leader"]["opened"], steps["Task_leader"]["median_workdays"]) == (3, 1)
    assert steps["Task_apply"]["opened"] == 1 and steps["Task_apply"]["closed"] == 1  # B's correction
    assert body["definitions"]["first_pass_rate"].startswith("办结案件中未经退回即核准")


def test_a_clerk_sees_only_their_own_units_cases(app, api, november):
    body = figures(api, "clerk1")
    assert body["total"] == {"started": 5, "finished": 3, "withdrawn": 1, "median_workdays": 6, "p90_workdays": 8,
                             "steps_with_limit": 13, "overdue": 2, "overdue_rate": round(2 / 13, 4), "returned": 1,
                             "return_rate": round(1 / 3, 4), "first_pass": 1, "first_pass_rate": round(1 / 3, 4)}
    assert [r["unit"] for r in body["by_unit"]] == ["12330621B01000000X"]
    with at(REPORT_DAY):
        refused = api("clerk1").get(f"/api/v1/monitoring?{PERIOD}&unit={CLERK2_UNIT}")
    assert refused.status_code == 403 and refused.json["error"]["message"] == "只能查看本单位的审批监测"
    page = user_client(app, "clerk2").get(f"/monitoring/cases?{PERIOD}&measure=started")
    assert re.findall(r">(KBSY-\d+-\d+)<", page.get_data(as_text=True)) == [november["F"]]


def test_the_dashboard_links_each_figure_to_its_cases(app, november):
    client = user_client(app, "leader1")
    with at(REPORT_DAY):
        page = client.get(f"/monitoring?{PERIOD}")
    total = table(page, "total")
    assert total == [["全部", "6", "4", "1", "5", "8", "17", "2", "11.8%", "1", "25.0%", "2", "50.0%"]]
    body = page.get_data(as_text=True)
    links = dict(re.findall(r'<a href="(/monitoring/cases\?[^"]+)">(\d+)</a>', body)[:6])
    assert len(links) == 6

    def numbers(measure):
        with at(REPORT_DAY):
            drill = client.get(f"/monitoring/cases?{PERIOD}&measure={measure}")
        assert drill.status_code == 200
        return sorted(re.findall(r">(KBSY-\d+-\d+)<", drill.get_data(as_text=True)))
    n = november
    assert numbers("started") == sorted(n.values())
    assert numbers("finished") == sorted([n["A"], n["B"], n["C"], n["F"]])
    assert numbers("overdue") == sorted([n["C"], n["D"]])
    assert numbers("returned") == [n["B"]]
    assert numbers("first_pass") == sorted([n["A"], n["F"]])
    assert numbers("withdrawn") == [n["E"]]
    with at(REPORT_DAY):
        october = client.get("/monitoring/cases?from=2024-10-01&to=2024-10-31&measure=started")
    assert "没有符合条件的案件" in october.get_data(as_text=True)


def test_filters_by_step_and_month(app, november):
    client = user_client(app, "reviewer2")
    with at(REPORT_DAY):
        page = client.get(f"/monitoring?{PERIOD}&process=vacancy_use&step=Task_review&month=2024-11")
        body = page.get_data(as_text=True)
        assert '<option value="Task_review" selected>业务科室初审</option>' in body
        assert [r[1] for r in table(page, "by_step")] == ["业务科室初审"]
        assert table(page, "by_step")[0][2:9] == ["7", "6", "1", "8", "7", "2", "28.6%"]
        assert table(page, "total")[0][1:3] == ["6", "4"]  # case figures are not narrowed by a step
        december = client.get(f"/monitoring?{PERIOD}&month=2024-12")
    assert december.status_code == 422 and "2024-12 不在统计期间内" in december.get_data(as_text=True)


def test_the_export_is_the_dashboard_and_is_audited(app, november):
    client = user_client(app, "auditor1")
    with at(REPORT_DAY):
        response = client.get(f"/monitoring/export.xlsx?{PERIOD}&table=by_step")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    review = next(r for r in rows if r[1] == "业务科室初审")
    assert review == ("空编使用", "业务科室初审", 7, 6, 1, 8, 7, 2, "28.6%", 5, 1, "20.0%")

    def audited():
        return [(e.action, e.detail["tables"], e.detail["from"]) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "monitoring.export"))]
    assert read(app, audited) == [("monitoring.export", ["by_step"], "2024-11-01")]


def test_bad_filters_are_refused_in_chinese(api):
    with at(REPORT_DAY):
        clerk = api("reviewer1")
        assert clerk.get("/api/v1/monitoring?process=nope").json["error"]["message"] == "没有流程「nope」"
        assert clerk.get("/api/v1/monitoring?from=2024-12-01&to=2024-11-01").status_code == 422
        assert clerk.get("/api/v1/monitoring?from=2024-11-01&to=2024-11-30&month=2024-13").status_code == 422
        assert clerk.get("/api/v1/monitoring?unit=NOPE").status_code == 404


@pytest.mark.browser
def test_the_dashboard_charts_draw_in_chromium(app, november):
    with live_server(app) as base, chromium() as browser:
        page = login(browser, base, "leader1")
        page.goto(f"/monitoring?{PERIOD}")
        page.wait_for_function("document.querySelectorAll('.chart canvas').length === 4")  # process, step, unit, month
        shot(page, "monitoring")
        page.get_by_role("link", name="2", exact=True).first.click()  # the overdue steps of the total
        page.wait_for_url("**/monitoring/cases?**")
        assert page.locator("#drill tbody tr").count() == 2
        assert page.js_errors == []
