"""The reporting side sealed to the reader's office (issue 15 item 1): statistics, 审批监测, the
query builder, data quality, rosters and their import, the annual review and the reminders each
cover the reader's jurisdiction. On the demo: reviewer_b1 (越城区委编办) reads 越城's four units
only, reviewer1 (柯桥区委编办) 柯桥's eleven, city_reviewer1 (绍兴市委编办) the roll-up of both and
may narrow it to one county; nothing of 越城 ever carries a 柯桥 unit or person, nor the reverse."""
import io
import json
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select, update

from bianzhi import clock
from bianzhi.cases.models import Case, OpenTask
from bianzhi.extensions import db
from bianzhi.ledger import idnumber
from bianzhi.ledger.models import Person, Unit
from bianzhi.queries.models import QualityFinding, QualityRule
from bianzhi.reports.models import RosterImport
from bianzhi.reports.operations import ROSTER_HEADER
from tests.conftest import csrf_token, login
from tests.fixtures.browser import chromium, live_server, shot
from tests.fixtures.browser import login as browser_login
from tests.fixtures.cases import CLERK1_UNIT, start
from tests.fixtures.inbox import read
from tests.fixtures.pages import user_client
from tests.fixtures.statistics import as_dict, table

KEQIAO, YUECHENG, CITY = "330603", "330602", "330600"
YC_LIBRARY = "12330602B01000000X"  # 越城区图书馆 (clerk_b1's unit): 事业编制 14 approved, 11 on roll
YC_CODE, KQ_CODE = "12330602", "12330621"  # how each district's unit codes begin
YC_PERSON, KQ_PERSON = "BZDEMOB", "BZDEMO0"  # how each district's person codes begin
# hand-computed from demo.UNITS_B: approved, on roll, reserved, vacancy
YC_SYSTEMS = {"党委": ["24", "22", "0", "2"], "政府": ["15", "14", "0", "1"], "文化": ["14", "11", "0", "3"],
              "教育": ["48", "45", "0", "3"], "合计": ["101", "92", "0", "9"]}


def _sheet(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data()
    response.close()  # the file behind a streamed download
    book = load_workbook(io.BytesIO(body), read_only=True)
    try:
        return [list(r) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _cells(rows):
    return [str(v) for row in rows for v in row if v is not None]


def _heading(response):
    html = response.get_data(as_text=True)
    return html[html.index("<h1>"):html.index("</h1>")]


# -- statistics ---------------------------------------------------------------------------------------

def test_each_office_reads_its_own_figures_and_the_city_their_sum(app):
    yc = user_client(app, "reviewer_b1").get("/statistics")
    kq = user_client(app, "reviewer1").get("/statistics")
    city = user_client(app, "city_reviewer1").get("/statistics")
    assert as_dict(table(yc, "system")) == YC_SYSTEMS
    assert as_dict(table(kq, "system"))["合计"] == ["361", "341", "0", "20"]
    # the city's total is the two districts' totals added up, figure by figure
    totals = [as_dict(table(page, "system"))["合计"] for page in (yc, kq)]
    assert as_dict(table(city, "system"))["合计"] == [str(int(a) + int(b)) for a, b in zip(*totals)]
    assert table(city, "sex")[-1][:2] == ["合计", str(92 + 341)]
    for key in ("category", "leadership"):
        city_rows, yc_rows, kq_rows = (as_dict(table(p, key)) for p in (city, yc, kq))
        for label, row in city_rows.items():
            for i, cell in enumerate(row):
                if cell.lstrip("-").isdigit():
                    assert int(cell) == (int(yc_rows[label][i]) if label in yc_rows else 0) + \
                        (int(kq_rows[label][i]) if label in kq_rows else 0), (key, label)
    assert "越城区委编办" in _heading(yc) and "柯桥区委编办" in _heading(kq)
    assert "绍兴市委编办（含下级编办）" in _heading(city)
    # only an upper office is offered a choice of office
    assert 'name="office"' in city.get_data(as_text=True) and 'name="office"' not in yc.get_data(as_text=True)


def test_the_city_narrows_its_roll_up_to_one_county_and_a_county_cannot_look_sideways(app):
    city = user_client(app, "city_reviewer1")
    one = city.get(f"/statistics?office={YUECHENG}")
    assert as_dict(table(one, "system")) == YC_SYSTEMS and "越城区委编办" in _heading(one)
    assert f'<option value="{YUECHENG}" selected>' in one.get_data(as_text=True)
    ledger = table(city.get(f"/statistics/ledger?office={KEQIAO}"), "ledger")
    assert {r[0][:8] for r in ledger if r[0] != "合计"} == {KQ_CODE}
    sideways = user_client(app, "reviewer_b1").get(f"/statistics?office={KEQIAO}")
    assert sideways.status_code == 403 and "只能查看本编办及下级编办辖区的数据" in sideways.get_data(as_text=True)
    upwards = user_client(app, "reviewer1").get(f"/statistics/ledger?office={CITY}")
    assert upwards.status_code == 403
    assert user_client(app, "clerk1").get(f"/statistics?office={KEQIAO}").status_code == 403
    assert city.get("/statistics?office=999999").status_code == 404


def test_the_ledger_changes_and_exports_of_a_county_hold_only_its_units(app, api):
    start(api("clerk_b1"), unit=YC_LIBRARY, count=1)  # a little activity in both districts
    start(api("clerk1"), count=1)
    client = user_client(app, "reviewer_b1")
    ledger = table(client.get("/statistics/ledger"), "ledger")
    assert {r[0][:8] for r in ledger if r[0] != "合计"} == {YC_CODE} and ledger[-1][3:5] == ["101", "92"]
    for page in ("overview", "changes", "ledger"):
        cells = _cells(_sheet(client.get(f"/statistics/export.xlsx?page={page}")))
        assert not any(c.startswith(KQ_CODE) or "柯桥" in c for c in cells), page
        assert "范围：越城区委编办" in cells, page
    city = _cells(_sheet(user_client(app, "city_reviewer1").get(f"/statistics/export.xlsx?page=ledger&office={YUECHENG}")))
    assert "范围：越城区委编办" in city and not any(c.startswith(KQ_CODE) for c in city)


# -- 审批监测 -----------------------------------------------------------------------------------------

def test_monitoring_counts_the_cases_of_the_jurisdiction(app, api):
    start(api("clerk_b1"), unit=YC_LIBRARY, count=1)
    start(api("clerk1"), count=1)
    start(api("clerk1"), count=1)
    period = f"from={clock.today() - timedelta(days=7)}&to={clock.today()}"

    def figures(username, extra=""):
        response = api(username).get(f"/api/v1/monitoring?{period}{extra}")
        assert response.status_code == 200, response.json
        return response.json
    yc, kq, city = figures("reviewer_b1"), figures("reviewer1"), figures("city_reviewer1")
    assert {r["unit"][:8] for r in yc["by_unit"]} == {YC_CODE} and yc["scope"] == "越城区委编办"
    assert {r["unit"][:8] for r in kq["by_unit"]} == {KQ_CODE}
    assert city["total"]["started"] == yc["total"]["started"] + kq["total"]["started"] > yc["total"]["started"] > 0
    assert figures("city_reviewer1", f"&office={YUECHENG}")["total"] == yc["total"]
    # a step counted for 越城 is a step of a 越城 case
    assert sum(r["opened"] for r in yc["by_step"]) == yc["total"]["started"]
    refused = api("reviewer_b1").get(f"/api/v1/monitoring?{period}&unit={CLERK1_UNIT}")
    assert refused.status_code == 403 and refused.json["error"]["message"] == "只能查看本编办辖区的审批监测"
    client = user_client(app, "reviewer_b1")
    drill = client.get(f"/monitoring/cases?{period}&measure=started").get_data(as_text=True)
    assert "越城区图书馆" in drill and "柯桥" not in drill
    cells = _cells(_sheet(client.get(f"/monitoring/export.xlsx?{period}")))
    assert "越城区图书馆" in " ".join(cells) and not any("柯桥" in c or c.startswith(KQ_CODE) for c in cells)
    assert "越城区委编办" in _heading(client.get(f"/monitoring?{period}"))


# -- the query builder --------------------------------------------------------------------------------

def _run(api_user, definition, target="person", **kw):
    response = api_user.post("/api/v1/queries/run", json={"target": target, "definition": definition, **kw})
    assert response.status_code == 200, response.json
    return response.json


def test_a_query_of_one_office_never_holds_another_offices_unit_or_person(app, api):
    everyone = {"op": "and", "items": []}
    yc = _run(api("reviewer_b1"), everyone)
    assert yc["total"] == 92 and {r["unit.name"][:6] for r in yc["rows"]} == {"绍兴市越城区"}
    assert {r["person.code"][:7] for r in yc["rows"]} == {YC_PERSON}
    assert _run(api("reviewer_b1"), everyone, target="unit")["total"] == 4
    assert _run(api("reviewer1"), everyone)["total"] == 341
    assert _run(api("city_reviewer1"), everyone)["total"] == 92 + 341
    by_code = {"op": "and", "items": [{"field": "unit.code", "op": "eq", "value": CLERK1_UNIT}]}
    assert _run(api("reviewer_b1"), by_code)["total"] == 0  # a 柯桥 unit named outright: nothing
    client = login(app.test_client(), "reviewer_b1")
    rows = _sheet(client.get("/queries/builder.xlsx?target=person&f0=person.status&o0=eq&v0=在编"))
    cells = _cells(rows[1:])
    assert len(rows) - 1 == 92 and not any(c.startswith((KQ_CODE, KQ_PERSON)) or "柯桥" in c for c in cells)
    assert "越城区委编办" in client.get("/queries/builder").get_data(as_text=True)


def test_a_shared_query_is_listed_in_its_own_office_only(app, api):
    reviewer = api("reviewer1")
    saved = reviewer.post("/api/v1/queries", json={"name": "柯桥研究生", "target": "person", "shared": True,
                                                   "definition": {"op": "and", "items": [
                                                       {"field": "person.education", "op": "eq", "value": "研究生"}]}})
    assert saved.status_code == 201, saved.json
    assert [q["name"] for q in api("reviewer2").get("/api/v1/queries").json] == ["柯桥研究生"]
    assert [q["name"] for q in api("clerk1").get("/api/v1/queries").json] == ["柯桥研究生"]  # a 柯桥 unit's clerk
    for other in ("reviewer_b1", "clerk_b1", "city_reviewer1"):
        assert api(other).get("/api/v1/queries").json == [], other
        refused = api(other).post("/api/v1/queries/run", json={"saved": saved.json["id"]})
        assert refused.status_code == 404, other
    page = login(app.test_client(), "reviewer_b1").get(f"/queries/builder?saved={saved.json['id']}")
    assert page.status_code == 404


# -- data quality -------------------------------------------------------------------------------------

def _spoil_both(app):
    """One person without education in each district."""
    def fn():
        ids = []
        for code in (YC_LIBRARY, CLERK1_UNIT):
            person = db.session.scalar(select(Person).join(Unit, Unit.id == Person.unit_id)
                                       .where(Unit.code == code).order_by(Person.id))
            person.education = None
            ids.append(person.id)
        db.session.commit()
        return ids
    return read(app, fn)


def _open_q01(app):
    def fn():
        return set(db.session.scalars(select(QualityFinding.entity_id).join(QualityRule)
                                      .where(QualityRule.code == "Q01", QualityFinding.status == "open")))
    return read(app, fn)


def test_a_check_covers_the_runners_office_and_rules_belong_to_their_office(app):
    yc_person, kq_person = _spoil_both(app)
    client = login(app.test_client(), "reviewer_b1")
    token = csrf_token(client, "/quality")
    assert client.post("/quality/check", data={"csrf_token": token}).status_code == 302
    assert _open_q01(app) == {yc_person}  # 柯桥's record waits for 柯桥's check (or the cron)
    html = client.get("/quality").get_data(as_text=True)
    findings = html[html.index('id="q-open"'):html.index('id="q-fixed"')]
    assert "越城区图书馆" in findings and "柯桥" not in findings
    kq = login(app.test_client(), "reviewer1")
    assert kq.post("/quality/check", data={"csrf_token": csrf_token(kq, "/quality")}).status_code == 302
    assert _open_q01(app) == {yc_person, kq_person}
    kq_html = kq.get("/quality").get_data(as_text=True)
    assert "越城" not in kq_html[kq_html.index('id="q-open"'):kq_html.index('id="q-fixed"')]
    # a rule made in 越城 checks 越城 and is neither listed nor switched in 柯桥
    made = client.post("/quality/rules", data={"csrf_token": token, "name": "越城自定规则", "target": "person",
                                               "severity": "warning", "definition": json.dumps(
                                                   {"op": "and", "items": [{"field": "person.status", "op": "eq",
                                                                            "value": "on_roll"}]})})
    assert made.status_code == 302
    rule_id = read(app, lambda: db.session.scalar(select(QualityRule.id).where(QualityRule.name == "越城自定规则")))
    assert "越城自定规则" not in kq.get("/quality").get_data(as_text=True)
    assert "越城自定规则" in login(app.test_client(), "city_reviewer1").get("/quality").get_data(as_text=True)
    off = kq.post("/quality/rules/manage", data={"csrf_token": csrf_token(kq, "/quality"), "id": rule_id,
                                                 "action": "deactivate"})
    assert off.status_code == 404
    assert client.post("/quality/check", data={"csrf_token": token}).status_code == 302
    found = read(app, lambda: set(db.session.scalars(select(Unit.code).join(QualityFinding).where(
        QualityFinding.rule_id == rule_id, QualityFinding.status == "open"))))
    assert found and {code[:8] for code in found} == {YC_CODE}
    # a built-in rule is every office's: a county does not switch it off for the others
    q01 = read(app, lambda: db.session.scalar(select(QualityRule.id).where(QualityRule.code == "Q01")))
    refused = client.post("/quality/rules/manage", data={"csrf_token": token, "id": q01, "action": "deactivate"})
    assert refused.status_code == 403 and "由最上级编办统一启用或停用" in refused.get_data(as_text=True)
    city_admin = login(app.test_client(), "city_admin1")
    assert city_admin.post("/quality/rules/manage", data={"csrf_token": csrf_token(city_admin, "/quality"),
                                                          "id": q01, "action": "deactivate"}).status_code == 302


# -- rosters and the standing queries ------------------------------------------------------------------

def test_rosters_and_standing_queries_are_the_jurisdictions(app):
    yc = login(app.test_client(), "reviewer_b1")
    rows = _sheet(yc.get("/roster.xlsx"))
    assert rows[0] == ROSTER_HEADER and len(rows) - 1 == 92
    assert {r[1][:8] for r in rows[1:]} == {YC_CODE} and {r[2][:7] for r in rows[1:]} == {YC_PERSON}
    refused = yc.get(f"/units/{CLERK1_UNIT}/roster.xlsx")
    assert refused.status_code == 403 and "只能导出本编办辖区单位的人员花名册" in refused.get_data(as_text=True)
    assert len(_sheet(yc.get(f"/units/{YC_LIBRARY}/roster.xlsx"))) - 1 == 11
    city = _sheet(login(app.test_client(), "city_reviewer1").get("/roster.xlsx"))
    assert len(city) - 1 == 92 + 341
    assert len(_sheet(login(app.test_client(), "city_reviewer1").get(f"/units/{CLERK1_UNIT}/roster.xlsx"))) - 1 == 33
    page = yc.get("/queries?months=120").get_data(as_text=True)
    assert "越城区委编办" in page and "柯桥" not in page[page.index("</h1>"):]


def _book(rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ROSTER_HEADER)
    for values in rows:
        sheet.append([values.get(h, "") for h in ROSTER_HEADER])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_import_touches_only_the_importers_offices_units(app):
    kq_holder = read(app, lambda: db.session.scalar(select(Person).join(Unit, Unit.id == Person.unit_id)
                                                    .where(Unit.code == CLERK1_UNIT).order_by(Person.id)).id_number)
    new_id = idnumber.make("330602", clock.today().replace(year=1990, month=5, day=17), 125)
    content = _book([
        {"单位代码": CLERK1_UNIT, "姓名": "越界者", "身份证号": new_id, "编制类型": "事业编制", "入编时间": "2015-08-01"},
        {"单位代码": YC_LIBRARY, "姓名": "已在柯桥", "身份证号": kq_holder, "编制类型": "事业编制",
         "入编时间": "2015-08-01"},
        {"单位": "绍兴市柯桥区疾病预防控制中心", "姓名": "按名越界", "身份证号": idnumber.make("330602", clock.today().replace(
            year=1991, month=6, day=1), 127), "编制类型": "事业编制", "入编时间": "2015-08-01"},
    ])
    client = login(app.test_client(), "reviewer_b1")
    response = client.post("/roster/import", data={"csrf_token": csrf_token(client, "/roster/import"),
                                                   "file": (io.BytesIO(content), "越城.xlsx")})
    assert response.status_code == 302
    number = int(response.headers["Location"].rstrip("/").split("/")[-1])
    report = read(app, lambda: db.session.get(RosterImport, number).report)
    messages = {row: message for row, _column, message in report["findings"]}
    assert messages[2] == f"单位代码 {CLERK1_UNIT} 的单位不属于越城区委编办，只能导入本编办辖区单位的人员"
    assert messages[3] == "此人已在其他编办辖区的单位在编"  # not named: another office's person
    assert messages[4] == "越城区委编办辖区没有名为「绍兴市柯桥区疾病预防控制中心」的单位"
    assert report["valid"] == 0
    # 柯桥 neither lists nor opens 越城's import
    kq = login(app.test_client(), "reviewer1")
    assert f'href="/roster/imports/{number}"' not in kq.get("/roster/import").get_data(as_text=True)
    assert kq.get(f"/roster/imports/{number}").status_code == 404
    assert kq.get(f"/roster/imports/{number}/status.json").status_code == 404
    assert f'href="/roster/imports/{number}"' in client.get("/roster/import").get_data(as_text=True)


# -- the annual review ------------------------------------------------------------------------------------

def test_the_annual_review_lists_the_units_of_the_jurisdiction(app, api):
    kq = login(app.test_client(), "reviewer1")
    deadline = (clock.today() + timedelta(days=14)).isoformat()
    started = kq.post("/review/start", data={"csrf_token": csrf_token(kq, "/review"), "year": "2031",
                                             "deadline": deadline})
    assert started.status_code == 302, started.get_data(as_text=True)[:500]
    offices = read(app, lambda: set(db.session.scalars(select(Case.office_id).where(Case.process_key == "annual_review"))))
    assert len(offices) == 1 and None not in offices  # each case carries its unit's office
    kq_lines = api("reviewer1").get("/api/v1/reviews?year=2031").json
    assert kq_lines["units"] == 11 and {l["unit_code"][:8] for l in kq_lines["lines"]} == {KQ_CODE}
    city = api("city_reviewer1").get("/api/v1/reviews?year=2031").json
    assert city["units"] == 11  # the roll-up: 柯桥's units (越城 has not started one)
    assert api("reviewer_b1").get("/api/v1/reviews?year=2031").status_code == 404
    yc = login(app.test_client(), "reviewer_b1")
    page = yc.get("/review").get_data(as_text=True)
    assert "2031" not in page and "越城区委编办" in page
    assert yc.get("/review?year=2031").status_code == 404
    # one review a year for the whole installation (AnnualReview.year is unique): said plainly
    again = yc.post("/review/start", data={"csrf_token": csrf_token(yc, "/review"), "year": "2031",
                                           "deadline": deadline})
    assert again.status_code == 409 and "2031 年度年审已由其他编办发起" in again.get_data(as_text=True)
    assert "周建华" not in again.get_data(as_text=True)


# -- reminders ------------------------------------------------------------------------------------------------

def test_a_leaders_overdue_steps_are_the_offices_cases(app, api):
    yc_case = start(api("clerk_b1"), unit=YC_LIBRARY, count=1)
    kq_case = start(api("clerk1"), count=1)

    def overdue():
        db.session.execute(update(OpenTask).where(OpenTask.case_id.in_([yc_case["id"], kq_case["id"]]))
                           .values(sort_due=clock.today() - timedelta(days=3),
                                   due_date=clock.today() - timedelta(days=3)))
        db.session.commit()
    read(app, overdue)

    def section(username):
        html = user_client(app, username).get("/reminders").get_data(as_text=True)
        return html, html[html.index('id="overdue"'):html.index("</section>", html.index('id="overdue"'))]
    yc_html, yc = section("leader_b1")
    kq_html, kq = section("leader1")
    city_html, city = section("city_leader1")
    assert yc_case["number"] in yc and kq_case["number"] not in yc and "越城区委编办" in yc_html
    assert kq_case["number"] in kq and yc_case["number"] not in kq
    assert yc_case["number"] in city and kq_case["number"] in city


# -- the office selector on a phone -------------------------------------------------------------------------

@pytest.mark.browser
def test_a_city_leader_picks_one_county_on_a_phone(app):
    with live_server(app) as base, chromium() as browser:
        page = browser_login(browser, base, "city_leader1", viewport=(390, 844))
        page.goto("/statistics")
        assert "绍兴市委编办（含下级编办）" in page.locator("h1").inner_text()
        page.select_option("select[name=office]", YUECHENG)
        page.get_by_role("button", name="统计").click()
        page.wait_for_url("**office=330602**")
        assert "越城区委编办" in page.locator("h1").inner_text()
        rows = page.eval_on_selector_all('table[data-table="system"] tr.total td', "tds => tds.map(t => t.innerText)")
        assert rows[:3] == ["合计", "101", "92"]
        box = page.locator("select[name=office]").bounding_box()
        assert box["height"] >= 40 and box["x"] + box["width"] <= 390
        shot(page, "phone-statistics-office")
        page.get_by_role("link", name="审批监测").click()  # the tabs keep the chosen office
        assert "越城区委编办" in page.locator("h1").inner_text()
        page.select_option("select[name=office]", KEQIAO)
        page.get_by_role("button", name="统计").click()
        page.wait_for_url("**office=330603**")
        assert "柯桥区委编办" in page.locator("h1").inner_text()
        assert page.js_errors == []
