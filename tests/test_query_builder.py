"""自由组合查询: definitions against answers computed independently (plain Python over every
record of the demo district, plus the demo's known numbers); bad definitions; scope; masking
in the Excel export; saved and shared queries; the grouped 超编 query."""
import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bianzhi import clock
from bianzhi.accounts.operations import create_user
from bianzhi.audit.models import AuditEntry
from bianzhi.extensions import db
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import Department, Person, Unit
from bianzhi.organisation.models import Office
from bianzhi.queries.models import SavedQuery
from bianzhi.reports.operations import establishment_exceptions
from tests.conftest import PASSWORD, csrf_token, login
from tests.fixtures.browser import chromium, live_server, shot
from tests.fixtures.browser import login as browser_login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, approve_through, start

HEALTH_BUREAU = "12330621A04000000X"  # 卫生健康局: 15 on roll; above 疾控中心 (33) and 人民医院 (57)
KEQIAO, YUECHENG = "330603", "330602"  # the demo's district offices (reviewer1's, reviewer_b1's)
TODAY = clock.today()


def records(app, office=KEQIAO):
    """Every person of the units of `office` (the demo district of reviewer1, leader1, auditor1)
    as a plain dict, read with a plain query (not the compiler)."""
    with app.app_context():
        units = {u.id: u for u in db.session.scalars(select(Unit))}
        departments = dict(db.session.execute(select(Department.id, Department.name)).all())
        office_id = db.session.scalar(select(Office.id).where(Office.code == office))
        out = []
        for p in db.session.scalars(select(Person).where(Person.unit_id.in_(
                [u.id for u in units.values() if u.office_id == office_id]))):
            unit = units[p.unit_id]
            out.append({"id": p.id, "code": p.code, "name": p.name, "sex": p.sex, "birth_date": p.birth_date,
                        "id_number": p.id_number, "category": p.category, "status": p.status,
                        "education": p.education, "post": p.post, "midlevel_post": p.midlevel_post,
                        "entry_date": p.entry_date, "department": departments.get(p.department_id),
                        "details": dict(p.details or {}), "unit": unit.name, "unit_code": unit.code,
                        "unit_id": unit.id, "funding": unit.funding, "kind": unit.kind,
                        "parent": units[unit.parent_id].name if unit.parent_id else None})
        db.session.rollback()
        return out


def change(app, fn):
    with app.app_context():
        fn()
        db.session.commit()


def run(api_user, definition, target="person", expect=200, **kw):
    response = api_user.post("/api/v1/queries/run", json={"target": target, "definition": definition, **kw})
    assert response.status_code == expect, response.json
    return response.json


def AND(*items):
    return {"op": "and", "items": list(items)}


def OR(*items):
    return {"op": "or", "items": list(items)}


def c(field, op, value=None):
    return {"field": field, "op": op, "value": value}


def age(born, today=TODAY):
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# -- combinations against hand-computed answers -----------------------------------------------------------

def test_no_condition_is_everyone_and_the_demo_numbers_hold(app, api):
    reviewer = api("reviewer1")
    assert run(reviewer, AND())["total"] == 341  # the demo district's people on roll
    units = run(reviewer, AND(), target="unit")
    assert units["total"] == 11 and units["columns"][0] == {"key": "unit.code", "label": "统一社会信用代码"}
    assert run(reviewer, AND(c("unit.code", "eq", CLERK1_UNIT)))["total"] == 33


def test_and_or_nested(app, api):
    reviewer, people = api("reviewer1"), records(app)
    got = run(reviewer, AND(c("person.sex", "eq", "女"), c("person.education", "eq", "研究生")))
    assert got["total"] == sum(p["sex"] == "女" and p["education"] == "研究生" for p in people) > 0
    got = run(reviewer, OR(c("person.category", "eq", "工勤编制"), c("unit.funding", "eq", "自收自支")))
    assert got["total"] == sum(p["category"] == "工勤编制" or p["funding"] == "自收自支" for p in people) == 6 + 15
    nested = AND(c("unit.funding", "eq", "差额"),
                 OR(c("person.education", "eq", "研究生"), c("person.post", "contains", "主任")),
                 OR(c("person.sex", "eq", "男"), AND(c("person.midlevel_post", "not_empty"),
                                                    c("unit.kind", "eq", "事业单位"))))
    expected = [p["code"] for p in people
                if p["funding"] == "差额" and (p["education"] == "研究生" or "主任" in p["post"])
                and (p["sex"] == "男" or (p["midlevel_post"] and p["kind"] == "事业单位"))]
    got = run(reviewer, nested, sort="person.code")
    assert got["total"] == len(expected) > 0
    assert [r["person.code"] for r in got["rows"]] == sorted(expected)[:50]


def test_ranges_in_lists_and_the_unit_fields(app, api):
    reviewer, people = api("reviewer1"), records(app)
    got = run(reviewer, AND(c("person.birth_date", "between", ["1970-01-01", "1979-12-31"]),
                            c("person.entry_date", "gte", "2000-01-01")))
    assert got["total"] == sum(date(1970, 1, 1) <= p["birth_date"] <= date(1979, 12, 31)
                               and p["entry_date"] >= date(2000, 1, 1) for p in people) > 0
    got = run(reviewer, AND(c("person.age", "between", [30, 40])))
    assert got["total"] == sum(30 <= age(p["birth_date"]) <= 40 for p in people) > 0
    got = run(reviewer, AND(c("person.age", "eq", 45)))
    assert got["total"] == sum(age(p["birth_date"]) == 45 for p in people)
    got = run(reviewer, AND(c("person.category", "in", ["行政编制", "政法专项编制"])))
    assert got["total"] == 26 + 30 + 18 + 15 + 44 + 6
    got = run(reviewer, AND(c("unit.parent", "eq", "绍兴市柯桥区卫生健康局")))
    assert got["total"] == 33 + 57
    units = run(reviewer, AND(c("unit.approved", "gte", 40), c("unit.funding", "in", "全额，差额")), target="unit",
                sort="unit.approved", order="desc")
    # 全额 or 差额 with 40+ approved: 市场监管局 51, 人民医院 60, 柯桥中学 52, 疾控中心 40
    assert [(r["unit.name"][6:], r["unit.approved"]) for r in units["rows"]] == [
        ("人民医院", 60), ("柯桥中学", 52), ("市场监督管理局", 51), ("疾病预防控制中心", 40)]


def test_contains_empty_and_not_equal(app, api):
    def edit():
        rows = db.session.scalars(select(Person).order_by(Person.id).limit(5)).all()
        rows[0].education, rows[1].education = None, ""
        rows[2].name, rows[3].name = "欧阳100%_好", "欧阳明"
        rows[4].details = {"ethnicity": "回族", "political": "中共党员"}
    change(app, edit)
    reviewer, people = api("reviewer1"), records(app)
    assert run(reviewer, AND(c("person.education", "empty")))["total"] == 2
    assert run(reviewer, AND(c("person.education", "not_empty")))["total"] == 339
    assert run(reviewer, AND(c("person.name", "contains", "欧阳")))["total"] == 2
    assert run(reviewer, AND(c("person.name", "contains", "100%_")))["total"] == 1  # LIKE wildcards are literal
    assert run(reviewer, AND(c("person.name", "contains", "%")))["total"] == 1
    assert run(reviewer, AND(c("person.ethnicity", "ne", "汉族")))["total"] == 1
    assert run(reviewer, AND(c("person.political", "contains", "党员")))["total"] == 1
    assert run(reviewer, AND(c("person.political", "empty")))["total"] == 340
    # ≠ keeps the people with nothing filled in
    got = run(reviewer, AND(c("person.midlevel_post", "ne", "正职")))
    assert got["total"] == sum(p["midlevel_post"] != "正职" for p in people)
    assert got["total"] > sum(p["midlevel_post"] == "副职" for p in people)
    status = run(reviewer, AND(c("person.status", "eq", "在编")))  # a label is accepted for a choice
    assert status["total"] == 341 and status["rows"][0]["person.status"] == "在编"


def test_paging_and_sorting(app, api):
    reviewer, people = api("reviewer1"), records(app)
    first = run(reviewer, AND(), sort="person.birth_date", order="desc")
    third = run(reviewer, AND(), sort="person.birth_date", order="desc", page=7)
    assert (first["pages"], len(first["rows"]), third["page"], len(third["rows"])) == (7, 50, 7, 41)
    ordered = sorted(people, key=lambda p: (-p["birth_date"].toordinal(), p["id"]))
    assert [r["person.code"] for r in first["rows"]] == [p["code"] for p in ordered[:50]]
    assert [r["person.code"] for r in third["rows"]] == [p["code"] for p in ordered[300:]]
    bad = run(reviewer, AND(), sort="person.id_number", expect=422)
    assert "不能按“person.id_number”排序" in bad["error"]["message"]


# -- bad definitions: a clear Chinese 422 naming the condition ------------------------------------------------

def test_bad_definitions_name_the_condition(app, api):
    reviewer = api("reviewer1")

    def message(definition, target="person"):
        return run(reviewer, definition, target=target, expect=422)["error"]["message"]

    assert "条件 2：人员查询没有字段“person.salary”" in message(AND(c("person.name", "eq", "王"),
                                                             c("person.salary", "gte", 1)))
    assert "条件 1（出生日期 包含）：出生日期不能用“包含”" in message(AND(c("person.birth_date", "contains", "19")))
    assert "条件 1.2（入编时间 不早于/不小于）：“2020-13-01”不是日期" in message(
        AND(OR(c("person.name", "eq", "王"), c("person.entry_date", "gte", "2020-13-01"))))
    assert "起值大于止值" in message(AND(c("person.age", "between", [50, 30])))
    assert "条件 1（年龄（周岁） 不早于/不小于）：应在 0 到 150 之间" in message(AND(c("person.age", "gte", "9" * 12)))
    assert "应在 0 到 1000000 之间" in message(AND(c("unit.approved", "lte", -1)), target="unit")
    assert "“男性”不是可选值（男、女）" in message(AND(c("person.sex", "eq", "男性")))
    assert "条件 1（组合方式）：组合方式应为 and 或 or" in message(AND({"op": "xor", "items": []}))
    assert "条件 1（字段）：必填" in message(AND({"op": "eq", "value": 1}))
    assert "条件 1：应为条件或条件组" in message(AND("person.name = 王"))
    deep = AND(AND(AND(AND(c("person.name", "eq", "王")))))
    assert "条件组最多嵌套 3 层，现为 4 层" in message(deep)
    assert "条件最多 30 个，现为 31 个" in message(AND(*[c("person.name", "eq", str(i)) for i in range(31)]))
    hostile = AND()
    for _ in range(20):
        hostile = AND(hostile)
    assert "条件组最多嵌套 3 层，现为 21 层" in message(hostile)  # refused before anything recurses into it
    for _ in range(179):
        hostile = AND(hostile)
    assert "JSON 嵌套层数过多（最多 64 层）" in message(hostile)  # refused as it is parsed
    assert "单位查询没有字段“person.name”" in message(AND(c("person.name", "eq", "王")), target="unit")
    response = reviewer.post("/api/v1/queries/run", json={"target": "people", "definition": AND()})
    assert response.status_code == 422 and "查询对象" in response.json["error"]["message"]
    response = reviewer.post("/api/v1/queries/run", json={"target": "person", "definition": [1]})
    assert response.status_code == 422 and "查询定义应为 JSON 对象" in response.json["error"]["message"]
    # the page shows the same message with the form kept
    client = login(app.test_client(), "reviewer1")
    page = client.get("/queries/builder?target=person&f0=person.birth_date&o0=gte&v0=去年")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "条件 1（出生日期 不早于/不小于）：“去年”不是日期" in html
    assert 'value="去年"' in html


def test_id_numbers_are_queried_only_by_roles_that_see_them(app, api):
    people = records(app)
    target = next(p for p in people if p["unit_code"] == CLERK1_UNIT)
    digits = target["id_number"][-6:]
    leader = run(api("leader1"), AND(c("person.id_number", "contains", digits)), expect=422)
    assert "您的角色不能按身份证号查询" in leader["error"]["message"]
    found = run(api("reviewer1"), AND(c("person.id_number", "eq", target["id_number"])))
    assert found["total"] == 1 and found["rows"][0]["person.id_number"] == target["id_number"]
    # a clerk matches ID numbers of their own unit's people only
    other = next(p for p in people if p["unit_code"] == CLERK2_UNIT)
    assert run(api("clerk1"), AND(c("person.id_number", "eq", target["id_number"])))["total"] == 1
    assert run(api("clerk2"), AND(c("person.id_number", "eq", target["id_number"])))["total"] == 0
    assert run(api("clerk2"), AND(c("person.id_number", "eq", other["id_number"])))["total"] == 1


# -- scope --------------------------------------------------------------------------------------------------------

def test_clerks_see_their_unit_and_the_units_below_it(app, api):
    def add_clerk():
        create_user("clerk_health", PASSWORD, "卫健局经办人", ["unit_clerk"], ledger.unit_by_code(HEALTH_BUREAU))
    change(app, add_clerk)
    assert run(api("clerk1"), AND())["total"] == 33
    health = api("clerk_health")
    assert run(health, AND())["total"] == 15 + 33 + 57
    assert run(health, AND(), target="unit")["total"] == 3
    got = run(health, OR(c("unit.code", "eq", CLERK2_UNIT), c("unit.code", "eq", CLERK1_UNIT)))
    assert got["total"] == 33  # 档案馆 is not under 卫健局
    assert run(api("auditor1"), AND())["total"] == 341


def test_a_shared_query_runs_in_the_runners_scope(app, api):
    reviewer = login(app.test_client(), "reviewer1")
    response = reviewer.post("/queries/saved", data={
        "csrf_token": csrf_token(reviewer, "/queries/builder"), "name": "全区研究生", "shared": "on",
        "target": "person", "definition": json.dumps(AND(c("person.education", "eq", "研究生")))})
    assert response.status_code == 302
    people = records(app)
    listed = api("clerk1").get("/api/v1/queries").json
    assert [(q["name"], q["shared"], q["mine"], q["owner"]) for q in listed] == [("全区研究生", True, False, "周建华")]
    got = run(api("clerk1"), None, saved=listed[0]["id"])
    assert got["total"] == sum(p["education"] == "研究生" and p["unit_code"] == CLERK1_UNIT for p in people)
    assert {r["unit.name"] for r in got["rows"]} == {"绍兴市柯桥区疾病预防控制中心"}
    assert run(api("leader1"), None, saved=listed[0]["id"])["total"] == sum(p["education"] == "研究生" for p in people)
    clerk = login(app.test_client(), "clerk1")
    page = clerk.get(f"/queries/builder?saved={listed[0]['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "全区研究生" in html and "档案馆" not in html
    assert f'href="/queries/builder.xlsx?sort=unit.name&amp;order=asc&amp;saved={listed[0]["id"]}"' in html
    rows = _sheet(clerk.get(f"/queries/builder.xlsx?saved={listed[0]['id']}"))
    assert len(rows) - 1 == got["total"]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "query.export"))
        assert (entry.target, entry.detail["rows"]) == (f"query:{listed[0]['id']}", got["total"])


def test_a_fresh_builder_page_starts_with_the_people_on_roll(app):
    def one_leaves():
        db.session.scalar(select(Person).order_by(Person.id)).status = "left"
    change(app, one_leaves)
    client = login(app.test_client(), "leader1")
    html = client.get("/queries/builder").get_data(as_text=True)
    assert "查询结果：共 340 人" in html
    assert 'data-ops="eq,ne,in" selected>人员状态' in html and 'name="v0" value="在编"' in html
    assert "共 341 人" in client.get("/queries/builder?target=person").get_data(as_text=True)


# -- the Excel export -------------------------------------------------------------------------------------------------

def _sheet(response):
    assert response.status_code == 200, response.get_data()[:300]
    body = response.get_data()
    response.close()
    book = load_workbook(io.BytesIO(body), read_only=True)
    try:
        return [list(r) for r in book.active.iter_rows(values_only=True)]
    finally:
        book.close()


def test_export_masks_id_numbers_neutralises_formulas_and_is_audited(app):
    def edit():
        person = db.session.scalar(select(Person).join(Unit, Unit.id == Person.unit_id)
                                   .where(Unit.code == CLERK1_UNIT).order_by(Person.id))
        person.name = "=HYPERLINK(\"http://x\")"
    change(app, edit)
    people = {p["code"]: p for p in records(app)}
    args = "target=person&f0=unit.code&o0=in&v0=" + CLERK1_UNIT + "," + CLERK2_UNIT + "&sort=person.code"
    sheets = {}
    for user in ("leader1", "reviewer1", "clerk1"):
        sheets[user] = _sheet(login(app.test_client(), user).get("/queries/builder.xlsx?" + args))
    header = sheets["leader1"][0]
    id_col, code_col, name_col = header.index("身份证号"), header.index("人员编码"), header.index("姓名")
    assert len(sheets["leader1"]) - 1 == 43 and len(sheets["clerk1"]) - 1 == 33
    for row in sheets["leader1"][1:]:
        full = people[row[code_col]]["id_number"]
        assert row[id_col] == full[:6] + "********" + full[-4:]
    assert all(row[id_col] == people[row[code_col]]["id_number"] for row in sheets["reviewer1"][1:])
    assert all(row[id_col] == people[row[code_col]]["id_number"] for row in sheets["clerk1"][1:])
    assert "'=HYPERLINK(\"http://x\")" in [row[name_col] for row in sheets["clerk1"][1:]]
    # masked on the page and in the API for the leader too
    page = login(app.test_client(), "leader1").get("/queries/builder?" + args).get_data(as_text=True)
    some = next(p for p in people.values() if p["unit_code"] == CLERK1_UNIT)
    assert some["id_number"] not in page and some["id_number"][:6] + "********" + some["id_number"][-4:] in page
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "query.export")
                                     .order_by(AuditEntry.id)).all()
        assert [(e.detail["rows"], e.detail["target_kind"]) for e in entries] == [(43, "person"), (43, "person"),
                                                                                 (33, "person")]
        assert entries[0].detail["definition"]["items"][0]["field"] == "unit.code"


# -- saved queries ------------------------------------------------------------------------------------------------------

def test_save_rename_share_delete_own_only(app, api):
    clerk = login(app.test_client(), "clerk1")
    token = csrf_token(clerk, "/queries/builder")
    definition = json.dumps(AND(c("person.sex", "eq", "女")))
    assert clerk.post("/queries/saved", data={"csrf_token": token, "name": "女职工", "target": "person",
                                              "definition": definition}).status_code == 302
    bad = clerk.post("/queries/saved", data={"csrf_token": token, "name": "坏的", "target": "person",
                                             "definition": json.dumps(AND(c("person.sex", "eq", "X")))})
    assert bad.status_code == 422 and "“X”不是可选值" in bad.get_data(as_text=True)
    with app.app_context():
        saved = db.session.scalar(select(SavedQuery))
        saved_id = saved.id
        assert (saved.name, saved.shared, saved.definition["items"][0]["value"]) == ("女职工", False, "女")
    assert api("clerk2").get("/api/v1/queries").json == []  # not shared: nobody else sees it
    assert run(api("clerk2"), None, saved=saved_id, expect=404)["error"]["message"].startswith("没有这个已保存的查询")

    def manage(client, **data):
        return client.post("/queries/saved/manage", data={"csrf_token": csrf_token(client, "/queries/builder"),
                                                          "id": saved_id, **data})
    assert manage(clerk, action="rename", name="本单位女职工").status_code == 302
    assert manage(clerk, action="share").status_code == 302
    listed = api("clerk2").get("/api/v1/queries").json
    assert [(q["name"], q["shared"], q["mine"]) for q in listed] == [("本单位女职工", True, False)]
    other = login(app.test_client(), "clerk2")
    refused = manage(other, action="delete")
    assert refused.status_code == 403 and "只能修改自己保存的查询" in refused.get_data(as_text=True)
    auditor = login(app.test_client(), "auditor1")
    assert auditor.post("/queries/saved", data={"csrf_token": csrf_token(auditor, "/queries/builder"),
                                                "name": "x", "target": "person", "definition": "{}"}).status_code == 403
    assert manage(clerk, action="delete").status_code == 302
    assert api("clerk1").get("/api/v1/queries").json == []
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("query.%"))).all()
        assert actions == ["query.share"]


def test_saving_over_the_api(app, api):
    reviewer = api("reviewer1")
    definition = AND(c("unit.funding", "eq", "差额"))
    response = reviewer.post("/api/v1/queries", json={"name": "差额单位人员", "target": "person",
                                                      "definition": definition, "shared": True})
    assert response.status_code == 201, response.json
    assert {k: response.json[k] for k in ("name", "target", "shared", "mine", "owner")} == {
        "name": "差额单位人员", "target": "person", "shared": True, "mine": True, "owner": "周建华"}
    assert run(api("leader1"), None, saved=response.json["id"])["total"] == 57 + 31  # 人民医院, 融媒体中心
    bad = reviewer.post("/api/v1/queries", json={"name": "", "target": "person", "definition": definition})
    assert bad.status_code == 422 and bad.json["error"]["message"] == "请为查询命名"
    bad = reviewer.post("/api/v1/queries", json={"name": "x", "target": "unit",
                                                 "definition": AND(c("person.name", "eq", "王"))})
    assert bad.status_code == 422 and "单位查询没有字段“person.name”" in bad.json["error"]["message"]
    refused = api("auditor1").post("/api/v1/queries", json={"name": "x", "definition": definition})
    assert refused.status_code == 403 and refused.json["error"]["message"] == "督查人员只读，不能保存查询"


def test_the_form_builds_groups_without_javascript(app):
    people = records(app)
    client = login(app.test_client(), "reviewer1")
    # unit = 档案馆 AND (education = 研究生 OR sex = 女): group 1 combined with OR
    query = ("target=person&op=and&f0=unit.code&o0=eq&v0=" + CLERK2_UNIT +
             "&g1=1&f1=person.education&o1=eq&v1=研究生&g2=1&f2=person.sex&o2=eq&v2=女&gop1=or&f3=&o3=eq&v3=")
    html = client.get("/queries/builder?" + query).get_data(as_text=True)
    expected = sum(p["unit_code"] == CLERK2_UNIT and (p["education"] == "研究生" or p["sex"] == "女") for p in people)
    assert f"查询结果：共 {expected} 人" in html
    assert html.count('<option value="1" selected>组1</option>') == 2  # the rows keep their group
    between = client.get("/queries/builder?target=person&f0=person.age&o0=between&v0=30&w0=40").get_data(as_text=True)
    assert f"共 {sum(30 <= age(p['birth_date']) <= 40 for p in people)} 人" in between


# -- the grouped 超编 query ------------------------------------------------------------------------------------------------

def test_establishment_exceptions_match_the_per_unit_figures(app, api):
    # 档案馆: 12 approved, 10 on roll; an approved vacancy-use case reserves the other 2 → 满编
    # the archive is 归口 to 事业编制科 (reviewer2)
    approve_through(api("reviewer2"), api("leader1"), start(api("clerk2"), unit=CLERK2_UNIT, count=2))
    with app.app_context():
        old = [(u.code, f) for u in db.session.scalars(select(Unit).order_by(Unit.code)) for f in ledger.figures(u)
               if f["warning"] in ("red", "yellow")]
        old.sort(key=lambda r: (r[1]["warning"] != "red", r[0], r[1]["category"]))
        new = [(r.unit.code, r.figure) for r in establishment_exceptions()]
        assert new == old
        lines = [(code[8:11], f["category"], f["warning"], f["reserved"]) for code, f in new]
        assert lines[0] == ("B05", "事业编制", "red", 0)
        assert ("B02", "事业编制", "yellow", 2) in lines and ("A03", "行政编制", "yellow", 0) in lines


@pytest.mark.browser
def test_the_builder_in_chromium(app):
    """The JavaScript only helps: it adds rows and offers the operators a field allows."""
    from playwright.sync_api import expect

    people = records(app)
    with live_server(app) as base, chromium() as browser:
        page = browser_login(browser, base, "reviewer1")
        page.goto("/queries/builder")
        expect(page.locator("tr.qb-row")).to_have_count(3)
        page.get_by_role("button", name="添加条件").click()
        expect(page.locator("tr.qb-row")).to_have_count(4)
        page.select_option("select[name=f3]", "person.entry_date")
        allowed = page.eval_on_selector("select[name=o3]", "s => [...s.options].filter(o => !o.disabled).map(o => o.value)")
        assert allowed == ["eq", "ne", "gte", "lte", "between"]
        page.select_option("select[name=o3]", "between")
        page.fill("input[name=v3]", "2005-01-01")
        page.fill("input[name=w3]", "2014-12-31")
        page.get_by_role("button", name="查询").click()
        expected = sum(p["status"] == "on_roll" and date(2005, 1, 1) <= p["entry_date"] <= date(2014, 12, 31)
                       for p in people)
        expect(page.locator("#qb-result h2")).to_have_text(f"查询结果：共 {expected} 人")
        page.get_by_label("名称", exact=True).fill("2005–2014 年入编")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.locator(".flash.success")).to_have_text("已保存查询“2005–2014 年入编”")
        shot(page, "query_builder")
        assert page.js_errors == []
