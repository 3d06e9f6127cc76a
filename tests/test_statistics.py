"""Statistics (/statistics, /statistics/changes, /statistics/ledger): figures on the demo district
against hand-computed answers, the staff structure against a count person by person, the ledger
on past dates against the chronicle (ledger.history.figures_as_of), a registration and an exit
moving the counts by exactly one, a clerk's scope (their unit and its subordinate units), and
every Excel download in the audit log."""
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bianzhi import clock
from bianzhi.accounts.operations import create_user
from bianzhi.audit.models import AuditEntry
from bianzhi.extensions import db
from bianzhi.ledger.history import figures_as_of
from bianzhi.ledger.models import ChronicleEntry, Person, Unit
from bianzhi.ledger.operations import chronicle
from bianzhi.organisation.jurisdiction import Jurisdiction
from bianzhi.organisation.models import Office
from bianzhi.statistics.operations import Table, district_figures_as_of, end_of_day
from tests.conftest import PASSWORD
from tests.fixtures.browser import chromium, live_server, login, shot
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, approve_through, decide, only_task, person, start
from tests.fixtures.inbox import beijing, read
from tests.fixtures.pages import user_client
from tests.fixtures.people import people_of
from tests.fixtures.statistics import as_dict, table

A04 = "12330621A04000000X"  # 卫生健康局: parent of B01 (疾控中心) and B03 (人民医院)
KEQIAO, YUECHENG, CITY = "330603", "330602", "330600"  # demo offices: reviewer1's, reviewer_b1's, city_reviewer1's


def _office_id(code):
    return db.session.scalar(select(Office.id).where(Office.code == code))


def of_office(code):
    """The jurisdiction of one office and the offices below it."""
    office = db.session.scalar(select(Office).where(Office.code == code))
    return Jurisdiction(offices=tuple(office.subtree_ids()), label=office.name, office=office)


def test_establishment_by_system_and_category_on_the_demo_district(app):
    page = user_client(app, "reviewer1").get("/statistics")
    # hand-computed from demo.UNITS: approved, on roll, reserved, vacancy
    assert as_dict(table(page, "system")) == {
        "党委": ["43", "38", "0", "5"], "政府": ["121", "117", "0", "4"], "卫生健康": ["100", "90", "0", "10"],
        "教育": ["52", "50", "0", "2"], "宣传": ["30", "31", "0", "-1"], "住房城建": ["15", "15", "0", "0"],
        "合计": ["361", "341", "0", "20"]}
    assert as_dict(table(page, "category")) == {
        "事业编制": ["209", "196", "0", "13"], "工勤编制": ["7", "6", "0", "1"], "政法专项编制": ["6", "6", "0", "0"],
        "行政编制": ["139", "133", "0", "6"], "合计": ["361", "341", "0", "20"]}
    # 11 units: leadership 1 + 2 each; mid-level 4/3 (党政) and 4/4 (事业); 3 chiefs and 2 deputies held in each
    assert as_dict(table(page, "leadership")) == {
        "领导职数·正职": ["11", "—", "—"], "领导职数·副职": ["22", "—", "—"],
        "中层职数·正职": ["44", "33", "11"], "中层职数·副职": ["39", "22", "17"], "非中层职务人员": ["—", "286", "—"]}
    text = page.get_data(as_text=True)
    assert "30岁及以下、31–40岁、41–50岁、51–55岁、56岁及以上" in text
    assert 'type="application/json" id="chart-data"' in text and "echarts/dist/echarts.min.js" in text


def _age(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _band(age):
    return ("30岁及以下" if age <= 30 else "31–40岁" if age <= 40 else "41–50岁" if age <= 50
            else "51–55岁" if age <= 55 else "56岁及以上")


def test_staff_structure_matches_a_person_by_person_count(app):
    day = date(2024, 6, 30)
    page = user_client(app, "leader1").get(f"/statistics?date={day}")

    def count():
        sex, ages, education, posts = {}, {}, {}, {}
        for p in db.session.scalars(select(Person).join(Unit, Unit.id == Person.unit_id)
                                    .where(Unit.office_id == _office_id(KEQIAO))):  # leader1's office
            if p.entry_date <= day and (p.left_date is None or p.left_date > day):
                for bucket, key in ((sex, p.sex), (ages, _band(_age(p.birth_date, day))),
                                    (education, p.education), (posts, p.post)):
                    bucket[key] = bucket.get(key, 0) + 1
        return sex, ages, education, posts
    sex, ages, education, posts = read(app, count)
    on_roll = sum(sex.values())
    assert 300 < on_roll < 341  # people who entered after mid-2024 are not yet counted
    for key, expected in (("sex", sex), ("age", ages), ("education", education), ("post", posts)):
        rows = table(page, key)
        shown = {r[0]: int(r[1]) for r in rows if r[0] != "合计"}
        assert {k: v for k, v in shown.items() if v} == expected, key
        assert rows[-1][:2] == ["合计", str(on_roll)], key
        shares = sum(float(r[2].rstrip("%")) for r in rows[:-1])
        assert abs(shares - 100) <= 0.05 * len(rows), key  # one-decimal rounding per row


def test_post_type_and_leadership_class_come_from_the_person_record(app):
    def fill():
        people = db.session.scalars(select(Person).where(Person.status == "on_roll").order_by(Person.id).limit(5)).all()
        for person, (post_type, person_class) in zip(people, [("管理", "部门正职"), ("管理", "内设副职"), ("专技", "非领导"),
                                                              ("专技", "非领导"), ("工勤", None)]):
            person.details = {**person.details, "post_type": post_type,
                              **({"person_class": person_class} if person_class else {})}
        db.session.commit()
    read(app, fill)
    page = user_client(app, "auditor1").get("/statistics")
    assert as_dict(table(page, "post_type")) == {"未填": ["336", "98.5%"], "专技": ["2", "0.6%"], "管理": ["2", "0.6%"],
                                                 "工勤": ["1", "0.3%"], "合计": ["341", "100.0%"]}
    assert as_dict(table(page, "person_class")) == {"未填": ["337", "98.8%"], "非领导": ["2", "0.6%"],
                                                    "内设副职": ["1", "0.3%"], "部门正职": ["1", "0.3%"],
                                                    "合计": ["341", "100.0%"]}


def _register_one(api):
    """A vacancy-use case of clerk1's unit (疾控中心) through approval, registration and confirmation."""
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk, count=1))
    response = clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": [person(7)]}})
    assert response.status_code == 200, response.json
    assert decide(reviewer, only_task(response.json)).status_code == 200
    return case["id"]


def _exit_one(app, api):
    """A staff-exit case of clerk2's unit (档案馆), approved: the person leaves today."""
    who = read(app, lambda: people_of(CLERK2_UNIT, holders=False)[0].code)
    response = api("clerk2").post("/api/v1/cases", json={"process": "staff_exit", "data": {
        "unit": CLERK2_UNIT, "person": who, "reason": "调出", "exit_date": clock.today().isoformat(),
        "destination": "绍兴市柯桥区人民医院"}})
    assert response.status_code == 201, response.json
    # the archive is 归口 to 事业编制科, whose reviewer is reviewer2
    assert decide(api("reviewer2"), only_task(response.json)).status_code == 200
    return response.json["id"]


def _backdate(app, case_id, moment):
    """Put a case's chronicle entries at `moment` (a scripted history over several days)."""
    def fn():
        db.session.execute(update(ChronicleEntry).where(ChronicleEntry.case_id == case_id).values(at=moment))
        db.session.commit()
    read(app, fn)


def test_a_registration_and_an_exit_move_the_counts_by_exactly_one(app, api):
    client = user_client(app, "auditor1")
    before = client.get("/statistics")
    _register_one(api)
    _exit_one(app, api)
    after = client.get("/statistics")
    assert as_dict(table(before, "system"))["卫生健康"] == ["100", "90", "0", "10"]
    assert as_dict(table(after, "system"))["卫生健康"] == ["100", "91", "0", "9"]
    assert as_dict(table(after, "system"))["党委"] == ["43", "37", "0", "6"]
    assert as_dict(table(after, "category"))["事业编制"] == ["209", "196", "0", "13"]  # one in, one out
    assert table(after, "sex")[-1][:2] == ["合计", "341"]
    assert as_dict(table(after, "education"))["合计"][0] == "341"
    changes = client.get(f"/statistics/changes?from={clock.today().replace(day=1)}&to={clock.today()}")
    assert as_dict(table(changes, "changes"))["人员进编"] == ["1", "1"]
    assert as_dict(table(changes, "changes"))["人员出编"] == ["1", "-1"]


def test_the_ledger_on_past_dates_is_replayed_from_the_chronicle(app, api):
    registered, exited = _register_one(api), _exit_one(app, api)
    _backdate(app, registered, beijing(2026, 3, 10, 10))
    _backdate(app, exited, beijing(2026, 3, 20, 23, 30))  # late evening in Beijing: still 20 March there
    client = user_client(app, "reviewer2")
    expected = {date(2026, 3, 9): (33, 0, 10), date(2026, 3, 10): (34, 0, 10), date(2026, 3, 19): (34, 0, 10),
                date(2026, 3, 20): (34, 0, 9), clock.today(): (34, 0, 9)}
    for day, (cdc, cdc_reserved, archive) in expected.items():
        page = client.get(f"/statistics/ledger?date={day}")
        rows = {(r[0], r[2]): r[3:7] for r in table(page, "ledger") if r[0] != "合计"}
        assert rows[(CLERK1_UNIT, "事业编制")] == ["40", str(cdc), str(cdc_reserved), str(40 - cdc - cdc_reserved)], day
        assert rows[(CLERK2_UNIT, "事业编制")][1] == str(archive), day
        # every unit and category as ledger.history.figures_as_of rebuilds it, unit by unit
        def unit_by_unit():
            moment, out = end_of_day(day), {}
            district = district_figures_as_of(moment)
            for unit in db.session.scalars(select(Unit).where(Unit.office_id == _office_id(KEQIAO))):
                for line in figures_as_of(unit, moment):
                    assert district[(unit.id, line["category"])] == line
                    out[(unit.code, line["category"])] = [str(line[k]) for k in ("approved", "on_roll", "reserved",
                                                                                  "vacancy")]
            assert len(district_figures_as_of(moment, of_office(KEQIAO))) == len(out)
            return out
        assert rows == read(app, unit_by_unit), day


def test_units_not_yet_founded_are_left_out_of_the_ledger_on_a_date(app):
    b06 = "12330621B06000000X"  # 城市建设发展中心, 15 approved, 15 on roll

    def founded():  # as if it was set up on 15 March 2026 with its 15 places and people
        unit = db.session.scalar(select(Unit).where(Unit.code == b06))
        unit.founded = date(2026, 3, 15)
        chronicle(None, None, unit, "establishment", unit.id, "adjust", "设立时核定编制并划入人员",
                  delta={"category": "事业编制", "approved": 15, "on_roll": 15}).at = beijing(2026, 3, 15)
        db.session.commit()
    read(app, founded)
    client = user_client(app, "admin")

    def rows(day):
        return {(r[0], r[2]): r[3:7] for r in table(client.get(f"/statistics/ledger?date={day}"), "ledger")}
    assert (b06, "事业编制") not in rows("2026-03-14")
    assert rows("2026-03-14")[("合计", "")] == ["346", "326", "0", "20"]
    assert rows("2026-03-15")[(b06, "事业编制")] == ["15", "15", "0", "0"]


def test_changes_over_a_period_count_the_chronicle(app, api):
    registered, exited = _register_one(api), _exit_one(app, api)
    _backdate(app, registered, beijing(2026, 3, 10))
    _backdate(app, exited, beijing(2026, 4, 2))

    def lifecycle():  # entries as the ledger records establishment and unit changes
        unit = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
        for action, delta in (("adjust", {"category": "事业编制", "approved": 2}),
                              ("transfer", {"category": "事业编制", "approved": -1})):
            entry = chronicle(None, None, unit, "establishment", unit.id, action, f"测试：编制{action}", delta=delta)
            entry.at = beijing(2026, 3, 15)
        chronicle(None, None, unit, "unit", unit.id, "rename", "测试：更名").at = beijing(2026, 3, 16)
        # a merge into this unit: one entry per category moved (its figures), one for the event
        chronicle(None, None, unit, "unit", unit.id, "merge", "测试：并入（事业编制 2 名）",
                  delta={"category": "事业编制", "approved": 2, "on_roll": 2}).at = beijing(2026, 3, 17)
        chronicle(None, None, unit, "unit", unit.id, "merge", "测试：某单位并入本单位").at = beijing(2026, 3, 17)
        db.session.commit()
    read(app, lifecycle)
    client = user_client(app, "leader1")
    march = client.get("/statistics/changes?from=2026-03-01&to=2026-03-31")
    assert as_dict(table(march, "changes")) == {
        "机构设立": ["0", "—"], "机构更名": ["1", "—"], "隶属关系调整": ["0", "—"], "机构合并": ["1", "—"],
        "机构撤销": ["0", "—"], "编制核增核减": ["1", "2"], "编制划出": ["1", "-1"], "编制划入": ["0", "0"],
        "人员进编": ["1", "1"], "人员出编": ["0", "0"]}
    spring = client.get("/statistics/changes?from=2026-03-01&to=2026-04-30")
    assert table(spring, "changes_monthly") == [["2026-03", "2", "2", "1", "0"], ["2026-04", "0", "0", "0", "1"],
                                                ["合计", "2", "2", "1", "1"]]
    assert as_dict(table(client.get("/statistics/changes?from=2026-03-11&to=2026-03-31"), "changes"))["人员进编"] == ["0", "0"]
    # clerk2 sees only the archive's changes: the exit
    mine = user_client(app, "clerk2").get("/statistics/changes?from=2026-03-01&to=2026-04-30")
    assert table(mine, "changes_monthly") == [["2026-04", "0", "0", "0", "1"], ["合计", "0", "0", "0", "1"]]


def test_a_real_merge_counts_once_and_the_ledger_before_it_is_unchanged(app):
    from bianzhi.accounts.models import User
    from bianzhi.ledger import units as lifecycle

    def merge():  # 档案馆 (党委, 12 / 10) into 疾控中心 (卫生健康, 40 / 33), by the unit-lifecycle operation
        b01, b02 = (db.session.scalar(select(Unit).where(Unit.code == c)) for c in (CLERK1_UNIT, CLERK2_UNIT))
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        lifecycle.merge_units(reviewer, b02, b01, lifecycle.Approval(number="绍柯编〔2026〕8号",
                                                                      issued_on=date(2026, 11, 2), title="合并批复"))
        db.session.commit()
    read(app, merge)
    client = user_client(app, "leader1")
    today, yesterday = clock.today(), clock.today() - timedelta(days=1)
    changes = as_dict(table(client.get(f"/statistics/changes?from={today}&to={today}"), "changes"))
    assert (changes["机构合并"], changes["机构撤销"]) == (["1", "—"], ["1", "—"])
    assert changes["人员进编"] == ["0", "0"] and changes["编制划入"] == ["0", "0"]
    now = as_dict(table(client.get(f"/statistics?date={today}"), "system"))
    before = as_dict(table(client.get(f"/statistics?date={yesterday}"), "system"))
    assert (now["党委"], now["卫生健康"]) == (["31", "28", "0", "3"], ["112", "100", "0", "12"])
    assert (before["党委"], before["卫生健康"]) == (["43", "38", "0", "5"], ["100", "90", "0", "10"])
    assert now["合计"] == before["合计"] == ["361", "341", "0", "20"]
    ledger_now = {r[0] for r in table(client.get(f"/statistics/ledger?date={today}"), "ledger")}
    ledger_before = {(r[0], r[2]): r[3:5] for r in table(client.get(f"/statistics/ledger?date={yesterday}"), "ledger")}
    assert CLERK2_UNIT not in ledger_now  # abolished, nothing left on its lines
    assert ledger_before[(CLERK2_UNIT, "事业编制")] == ["12", "10"]  # the day before, as it stood


def test_a_clerk_sees_their_unit_and_its_subordinate_units(app):
    with app.app_context():
        create_user("clerk_health", PASSWORD, "卫健局经办人", ["unit_clerk"],
                    db.session.scalar(select(Unit).where(Unit.code == A04)))
        db.session.commit()
    own = user_client(app, "clerk1").get("/statistics")
    assert as_dict(table(own, "system")) == {"卫生健康": ["40", "33", "0", "7"], "合计": ["40", "33", "0", "7"]}
    assert table(own, "sex")[-1][:2] == ["合计", "33"]
    parent = user_client(app, "clerk_health")
    assert as_dict(table(parent.get("/statistics"), "system")) == {
        "政府": ["16", "15", "0", "1"], "卫生健康": ["100", "90", "0", "10"], "合计": ["116", "105", "0", "11"]}
    ledger = table(parent.get("/statistics/ledger"), "ledger")
    assert [r[0] for r in ledger] == [A04, CLERK1_UNIT, "12330621B03000000X", "合计"]
    assert [r[0] for r in table(user_client(app, "clerk1").get("/statistics/ledger"), "ledger")] == [CLERK1_UNIT, "合计"]


def test_exports_are_the_tables_and_are_audited(app):
    client = user_client(app, "reviewer1")
    response = client.get("/statistics/export.xlsx?page=overview&table=system&date=2026-01-31")
    assert response.status_code == 200 and "officedocument" in response.mimetype
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "按系统类别：编制与实有"
    assert values[1] == ["系统类别", "核定数", "在编", "已预留", "空编"]
    assert values[-1] == ["合计", 361, 341, 0, 20]
    book = load_workbook(io.BytesIO(client.get("/statistics/export.xlsx").data))
    assert len(book.sheetnames) == 9  # the whole page: one sheet per table
    clerk = user_client(app, "clerk1").get("/statistics/export.xlsx?page=ledger")
    rows = list(load_workbook(io.BytesIO(clerk.data)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[2:-1]] == [CLERK1_UNIT, "合计"]  # a clerk's export is as scoped as the page
    assert rows[-1][0].startswith("说明：按沿革记录回溯")

    def audited():
        return [(e.action, e.target, e.detail.get("tables"), e.detail.get("date"))
                for e in db.session.scalars(select(AuditEntry).where(AuditEntry.action == "statistics.export")
                                            .order_by(AuditEntry.id))]
    assert read(app, audited) == [("statistics.export", "overview", ["system"], "2026-01-31"),
                                  ("statistics.export", "overview",
                                   ["system", "category", "sex", "age", "education", "post", "post_type",
                                    "person_class", "leadership"],
                                   clock.today().isoformat()),
                                  ("statistics.export", "ledger", ["ledger"], clock.today().isoformat())]


def test_bad_dates_are_refused_in_chinese(app):
    client = user_client(app, "reviewer1")
    future = client.get(f"/statistics/ledger?date={clock.today() + timedelta(days=2)}")
    assert future.status_code == 422 and "不能查询未来日期" in future.get_data(as_text=True)
    assert "日期格式应为 YYYY-MM-DD" in client.get("/statistics?date=2026-13-01").get_data(as_text=True)
    backwards = client.get("/statistics/changes?from=2026-05-01&to=2026-04-01")
    assert backwards.status_code == 422 and "晚于截止日期" in backwards.get_data(as_text=True)
    assert client.get("/statistics/export.xlsx?page=nope").status_code == 422


@pytest.mark.browser
def test_the_charts_draw_in_chromium_under_the_csp(app):
    """ECharts from node_modules draws every chart from the JSON data island; the page's CSP
    (no inline scripts) lets it, and nothing fails in the browser."""
    with live_server(app) as base, chromium() as browser:
        page = login(browser, base, "leader1")
        violations = []
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        for path, charts, name in (("/statistics", 9, "statistics"), ("/statistics/changes", 1, "statistics-changes"),
                                   ("/statistics/ledger", 1, "statistics-ledger")):
            page.goto(path)
            page.wait_for_function(f"document.querySelectorAll('.chart canvas').length === {charts}")
            shot(page, name)
        assert page.js_errors == [] and violations == []


def test_a_chart_of_many_rows_shows_the_largest_and_says_so():
    rows = [[f"单位{i}", i] for i in range(35)] + [["合计", sum(range(35))]]
    spec = Table("by_unit", "按单位", ["单位", "受理"], rows, chart="bar", series=[1]).chart_spec()
    assert spec["categories"] == [f"单位{i}" for i in range(34, 4, -1)]
    assert spec["series"] == [{"name": "受理", "data": list(range(34, 4, -1))}]
    assert spec["note"] == "图中为受理最多的前 30 项，表中为全部"
    few = Table("age", "年龄", ["年龄段", "人数"], [["30岁及以下", 3], ["31–40岁", 5], ["合计", 8]], chart="bar",
                series=[1]).chart_spec()
    assert few["categories"] == ["30岁及以下", "31–40岁"] and few["note"] == ""  # order kept, total left out
