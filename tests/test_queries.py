"""The roster as Excel (人员花名册) and the standing queries (超编/满编, 超职数, 自然减员)."""
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.extensions import db
from bianzhi.ledger import operations as ledger
from bianzhi.ledger import retirement
from bianzhi.ledger.models import Person, PostQuota, Unit
from bianzhi.organisation.models import Office
from bianzhi.reports.operations import ROSTER_HEADER, XLSX
from tests.conftest import login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT

MEDIA_UNIT = "12330621B05000000X"  # 区融媒体中心: 事业编制 30 approved, 31 on roll


def _in_keqiao():
    """People of the units of 柯桥区委编办 (the demo district of reviewer1 and auditor1)."""
    office = select(Office.id).where(Office.code == "330603").scalar_subquery()
    return Person.unit_id.in_(select(Unit.id).where(Unit.office_id == office))


def _sheet(response):
    assert response.status_code == 200, response.get_data()[:300]
    assert response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    response.close()
    book = load_workbook(io.BytesIO(body), read_only=True)
    try:
        return [list(row) for row in book.active.iter_rows(values_only=True)]
    finally:
        book.close()


def test_unit_roster_has_the_header_and_everyone_on_roll(client):
    login(client, "clerk1")
    rows = _sheet(client.get(f"/units/{CLERK1_UNIT}/roster.xlsx"))
    assert rows[0] == ROSTER_HEADER
    assert rows[0][:8] == ["单位", "单位代码", "人员编码", "姓名", "性别", "出生日期", "身份证号", "编制类型"]
    assert len(rows) - 1 == 33
    assert {(r[0], r[1]) for r in rows[1:]} == {("绍兴市柯桥区疾病预防控制中心", CLERK1_UNIT)}
    assert {r[ROSTER_HEADER.index("民族")] for r in rows[1:]} == {"汉族"}  # a details field
    status = ROSTER_HEADER.index("人员状态")
    assert {r[status] for r in rows[1:]} == {"在编"}
    id_number = ROSTER_HEADER.index("身份证号")
    assert all(isinstance(r[id_number], str) and len(r[id_number]) == 18 for r in rows[1:])


def test_district_roster_counts_everyone_on_roll(app, client):
    with app.app_context():
        on_roll = db.session.scalar(select(func.count()).select_from(Person).where(Person.status == "on_roll",
                                                                                    _in_keqiao()))
        person = db.session.scalar(select(Person).where(Person.status == "on_roll").order_by(Person.id))
        person.status, code = "left", person.code
        db.session.commit()
    login(client, "reviewer1")
    rows = _sheet(client.get("/roster.xlsx"))
    assert rows[0] == ROSTER_HEADER and len(rows) - 1 == on_roll - 1
    rows = _sheet(client.get("/roster.xlsx?include_left=1"))
    assert len(rows) - 1 == on_roll
    assert ["出编"] == [r[ROSTER_HEADER.index("人员状态")] for r in rows if r[2] == code]


def test_formula_like_names_come_out_as_text(app, client):
    with app.app_context():
        unit = ledger.unit_by_code(CLERK1_UNIT)
        person = db.session.scalar(select(Person).where(Person.unit_id == unit.id).order_by(Person.id))
        person.name = "=HYPERLINK(\"http://evil\",\"x\")"
        person.post = "+1+cmd|' /C calc'!A0"
        code = person.code
        db.session.commit()
    login(client, "clerk1")
    rows = _sheet(client.get(f"/units/{CLERK1_UNIT}/roster.xlsx"))
    row = next(r for r in rows if r[2] == code)
    assert row[3] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert row[ROSTER_HEADER.index("职务")] == "'+1+cmd|' /C calc'!A0"


def test_clerks_get_only_their_own_unit(client):
    login(client, "clerk1")
    for url in (f"/units/{CLERK2_UNIT}/roster.xlsx", "/roster.xlsx"):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert response.mimetype != XLSX and "档案馆" not in response.get_data(as_text=True)
        response.close()
    assert client.get("/units/NOSUCHUNIT/roster.xlsx").status_code == 404


def test_a_clerk_sees_the_standing_queries_of_their_own_unit_only(client):
    login(client, "clerk3")  # 区融媒体中心, over establishment
    html = client.get("/queries?months=120").get_data(as_text=True)
    section = html[html.index('id="q-establishment"'):html.index('id="q-posts"')]
    assert "融媒体中心" in section and "超编 1 名" in section and "（1 条）" in section
    retiring = html[html.index('id="q-retiring"'):]
    assert "融媒体中心" in retiring and "疾病预防控制中心" not in retiring and "档案馆" not in retiring
    assert f'href="/units/{MEDIA_UNIT}/roster.xlsx"' in html and 'href="/roster.xlsx"' not in html
    login(client, "clerk1")
    html = client.get("/queries?months=120").get_data(as_text=True)
    assert "融媒体中心" not in html


def test_exports_are_audited(app, client):
    login(client, "clerk1")
    _sheet(client.get(f"/units/{CLERK1_UNIT}/roster.xlsx"))
    login(client, "auditor1")
    _sheet(client.get("/roster.xlsx"))
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "roster.export")
                                     .order_by(AuditEntry.id)).all()
        assert [(e.target, e.detail["rows"]) for e in entries][0] == (f"unit:{CLERK1_UNIT}", 33)
        assert entries[1].target == "district" and entries[1].detail["rows"] > 33
        assert all(e.ip for e in entries) and len(entries) == 2


def test_queries_page_lists_the_over_establishment_unit(client):
    login(client, "leader1")
    html = client.get("/queries").get_data(as_text=True)
    section = html[html.index('id="q-establishment"'):html.index('id="q-posts"')]
    assert "融媒体中心" in section and "超编 1 名" in section
    assert f'href="/units/{MEDIA_UNIT}"' in section
    assert 'href="/roster.xlsx"' in html
    assert "查询统计" in html  # the nav link


def test_queries_page_lists_units_over_posts(app, client):
    with app.app_context():
        unit = ledger.unit_by_code(CLERK2_UNIT)
        quota = db.session.scalar(select(PostQuota).where(PostQuota.unit_id == unit.id, PostQuota.kind == "midlevel",
                                                          PostQuota.level == "正职"))
        free = db.session.scalars(select(Person).where(Person.unit_id == unit.id, Person.midlevel_post.is_(None))
                                  .order_by(Person.id)).all()
        filled = db.session.scalar(select(func.count()).select_from(Person).where(
            Person.unit_id == unit.id, Person.status == "on_roll", Person.midlevel_post == "正职"))
        for person in free[:quota.approved - filled + 1]:
            person.midlevel_post = "正职"
        db.session.commit()
    login(client, "reviewer1")
    html = client.get("/queries").get_data(as_text=True)
    section = html[html.index('id="q-posts"'):html.index('id="q-retiring"')]
    assert "档案馆" in section and "超职数 1 名" in section
    assert f'href="/units/{CLERK2_UNIT}"' in section


def test_retirement_list_within_36_months(app, client):
    today = clock.today()
    with app.app_context():
        due = []
        for person in db.session.scalars(select(Person).where(Person.status == "on_roll", _in_keqiao())
                                         .order_by(Person.id)):  # auditor1's office's people
            if 0 <= retirement.months_until(retirement.of_person(person), today) <= 36:
                due.append(person)
        assert len(due) >= 2, "the demo should have people retiring within 36 months"
        gone = due[0]
        gone.status, gone.left_date, gone.left_reason = "left", today, "调出"
        gone_code, staying = gone.code, [p.code for p in due[1:]]
        db.session.commit()
    login(client, "auditor1")
    html = client.get("/queries?months=36").get_data(as_text=True)
    section = html[html.index('id="q-retiring"'):]
    assert f"（{len(staying)} 人）" in section
    assert all(code in section for code in staying)
    assert gone_code not in section
    assert client.get("/queries?months=abc").status_code == 200
