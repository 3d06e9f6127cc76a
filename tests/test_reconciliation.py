"""四清两对应: mismatches planted in the demo district are each found with their cause; a clean unit
shows none; the finance bureau's paid head counts are compared; the Excel export is audited."""
from datetime import date, datetime
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select, update

from bianzhi.accounts.models import User
from bianzhi.audit.models import AuditEntry
from bianzhi.cases.models import Case
from bianzhi import clock
from bianzhi.extensions import db
from bianzhi.ledger import reconcile
from bianzhi.ledger.models import Absorption, Department, Establishment, Person, PostQuota, Unit
from tests.conftest import login
from tests.fixtures.cases import CLERK1_UNIT, approve_through, start

A01, A02, A03, A04 = (f"12330621A0{i}000000X" for i in (1, 2, 3, 4))
B02, B04, B05, B06 = (f"12330621B0{i}000000X" for i in (2, 4, 5, 6))


def _unit(code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def _put(api_user, body):
    return api_user.client.put("/api/v1/exchange/paid-headcounts", headers=api_user.headers, json=body)


def _on_roll_lines():
    """A finance report equal to the roll for every unit and category of 柯桥 (finance1 is its
    district's finance bureau)."""
    rows = db.session.execute(select(Unit.code, Person.category, db.func.count()).join(Unit, Unit.id == Person.unit_id)
                              .where(Person.status == "on_roll", Unit.code.startswith("12330621"))
                              .group_by(Unit.code, Person.category)).all()
    return [{"unit": code, "category": category, "paid": n} for code, category, n in rows]


def test_demo_district_has_only_the_known_over_establishment(app, ctx):
    found = reconcile.reconcile()
    assert [(f.unit_code, f.check, f.item, f.expected, f.actual) for f in found] == [
        (B05, "people_establishment", "事业编制", "核定 30 名", "在编 31 名")]
    assert found[0].cause == "超编 1 名：在编人数超过核定编制，无消化安排；须按“出一进一”逐步消化，不得再进人"


def test_over_establishment_with_an_absorption_names_it(app, ctx):
    b05 = _unit(B05)
    db.session.add(Absorption(unit_id=b05.id, category="事业编制", excess=1, target_date=date(2026, 6, 30),
                              document="柯编〔2025〕12号", status="open"))
    db.session.commit()
    with clock.use(lambda: datetime(2026, 5, 1)):
        before = reconcile.reconcile(b05)
    with clock.use(lambda: datetime(2026, 7, 1)):
        after = reconcile.reconcile(b05)
    assert [f.cause for f in before] == [
        "超编 1 名：在编人数超过核定编制，已按柯编〔2025〕12号安排消化（决定时超出 1 名），期限 2026-06-30"]
    assert after[0].cause.endswith("期限 2026-06-30，已逾期")


def test_planted_mismatches_each_found_with_cause_and_clean_unit_shows_none(app, api):
    # two approved vacancy uses reserve 2 + 1 places at clerk1's unit (40 approved, 33 on roll)
    case = approve_through(api("reviewer1"), api("leader1"), start(api("clerk1"), count=2))
    stale = approve_through(api("reviewer1"), api("leader1"), start(api("clerk1"), count=1))
    with app.app_context():
        finance_lines = _on_roll_lines()
        b01 = _unit(CLERK1_UNIT)
        # then the approval is cut to 34: 33 on roll + 3 reserved > 34
        db.session.execute(update(Establishment).where(Establishment.unit_id == b01.id).values(approved=34))
        # and the second case ends without releasing its reservation
        db.session.execute(update(Case).where(Case.id == stale["id"]).values(state="rejected", finished_at=clock.now()))
        _unit(B06).approval_doc = None  # 机构清: no approval document
        b02 = _unit(B02)
        db.session.execute(update(PostQuota).where(PostQuota.unit_id == b02.id, PostQuota.kind == "midlevel",
                                                   PostQuota.level == "正职").values(approved=2))  # 3 hold it
        b04, a01 = _unit(B04), _unit(A01)
        moved = db.session.scalars(select(Person).where(Person.unit_id == b04.id, Person.midlevel_post.is_(None))
                                   .order_by(Person.code)).first()
        moved.department_id = db.session.scalar(select(Department.id).where(Department.unit_id == a01.id).limit(1))
        a03 = _unit(A03)
        wrong = db.session.scalars(select(Person).where(Person.unit_id == a03.id).order_by(Person.code)).first()
        wrong.category = "事业编制"  # 教育体育局 has no 事业编制
        names = {"moved": f"{moved.name}（{moved.code}）", "a01": a01.name}
        db.session.commit()
        for line in finance_lines:
            if (line["unit"], line["category"]) == (A02, "行政编制"):
                line["paid"] += 1  # 31 paid, 30 on roll
            if (line["unit"], line["category"]) == (A04, "行政编制"):
                line["paid"] = 17  # approved 16, on roll 15
        finance_lines = [l for l in finance_lines if (l["unit"], l["category"]) != (B04, "事业编制")]
    # a district's finance bureau pays its own district: a line of 越城 is refused, nothing saved
    other = _put(api("finance1"), {"as_of": "2026-11-01", "source": "区财政局工资统发", "lines": finance_lines + [
        {"unit": "12330602B01000000X", "category": "事业编制", "paid": 11}]})
    assert other.status_code == 422 and other.json["error"]["fields"] == {
        f"lines.{len(finance_lines)}": ["单位 12330602B01000000X 不属于本账号所在编办的辖区，不能报送其财供人数"]}
    saved = _put(api("finance1"), {"as_of": "2026-11-01", "source": "区财政局工资统发", "lines": finance_lines})
    assert saved.status_code == 200, saved.json

    with app.app_context():
        found = reconcile.reconcile()
    got = {(f.unit_code, f.check, f.item, f.expected, f.actual) for f in found}
    assert got == {
        (CLERK1_UNIT, "establishment", "事业编制", "空编 1 名", "预留 3 名"),
        (CLERK1_UNIT, "establishment", "事业编制", "案件办结后释放预留", "仍预留 1 名"),
        (B06, "unit", "批准文号", "有批准设立文件", "未登记"),
        (B02, "posts", "中层正职", "核定 2 名", "已配 3 名"),
        (B04, "people", names["moved"], "本单位内设机构", f"{names['a01']}的内设机构"),
        (B04, "finance_establishment", "事业编制", "财供 50 名", "财政未报"),
        (A03, "people_establishment", "事业编制", "核定 0 名", "在编 1 名"),
        (A03, "finance_establishment", "事业编制", "财供 1 名", "财政未报"),
        (A03, "finance_establishment", "行政编制", "在编 17 名", "财供 18 名"),
        (A02, "finance_establishment", "行政编制", "在编 30 名", "财供 31 名"),
        (A04, "finance_establishment", "行政编制", "核定 16 名", "财供 17 名"),
        (A04, "finance_establishment", "行政编制", "在编 15 名", "财供 17 名"),
        (B05, "people_establishment", "事业编制", "核定 30 名", "在编 31 名"),
        (B05, "finance_establishment", "事业编制", "核定 30 名", "财供 31 名"),  # paid for the one over
    }
    causes = {(f.unit_code, f.item, f.expected, f.actual): f.cause for f in found}
    assert causes[(CLERK1_UNIT, "事业编制", "空编 1 名", "预留 3 名")] == (
        "预留超出空编 2 名：已核准的用编计划或空编使用多于剩余空编")
    assert causes[(CLERK1_UNIT, "事业编制", "案件办结后释放预留", "仍预留 1 名")] == (
        f"案件 {stale['number']} 已不予通过，预留未释放")
    assert causes[(B02, "中层正职", "核定 2 名", "已配 3 名")].startswith("超职数 1 名")
    assert causes[(A02, "行政编制", "在编 30 名", "财供 31 名")] == (
        "财供人数多于在编人数 1 名（区财政局工资统发，2026-11-01）：可能有出编人员仍在财政供养")
    assert causes[(A04, "行政编制", "核定 16 名", "财供 17 名")] == "财供人数超过核定编制 1 名（区财政局工资统发，2026-11-01）"
    assert "人员所在内设机构属于其他单位" in causes[(B04, names["moved"], "本单位内设机构", f"{names['a01']}的内设机构")]
    assert "本单位未核定" in causes[(A03, "事业编制", "核定 0 名", "在编 1 名")]
    assert case["state"] == "approved"

    # the clean unit A01, page and district page; B06 is 自收自支: no finance line expected
    reviewer = login(app.test_client(), "reviewer1")
    clean = reviewer.get(f"/reconciliation/{A01}").get_data(as_text=True)
    assert "核对一致，没有发现问题" in clean
    district = reviewer.get("/reconciliation").get_data(as_text=True)
    assert "不一致事项（14 条）" in district and "超职数 1 名" in district
    clerk = login(app.test_client(), "clerk1")
    assert "预留超出空编 2 名" in clerk.get(f"/reconciliation/{CLERK1_UNIT}").get_data(as_text=True)
    assert clerk.get(f"/reconciliation/{A01}").status_code == 403
    assert clerk.get("/reconciliation").status_code == 403

    export = reviewer.get("/reconciliation.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(BytesIO(export.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("统一社会信用代码", "单位", "核对项", "对象", "应为", "实为", "原因") and len(rows) == 15
    assert {r[2] for r in rows[1:]} == {"机构清", "编制清", "人员清", "职数清", "人编对应", "财编对应"}
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "reconciliation.export"))
        reviewer_id = db.session.scalar(select(User.id).where(User.username == "reviewer1"))
        assert entry.user_id == reviewer_id and entry.detail["rows"] == 14


def test_paid_headcounts_validated_and_only_finance_or_admin(app, api):
    finance = api("finance1")
    bad = _put(finance, {"as_of": "2026-13-01", "source": "", "lines": []})
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"as_of", "source", "lines"}
    lines = [{"unit": A01, "category": "行政编制", "paid": 26}, {"unit": "nope", "category": "行政编制", "paid": 1},
             {"unit": A01, "category": "行政编制", "paid": -1}, {"unit": A02, "category": "编外", "paid": 1}]
    wrong = _put(finance, {"as_of": "2026-11-01", "source": "区财政局", "lines": lines})
    assert wrong.status_code == 422
    assert set(wrong.json["error"]["fields"]) == {"lines.1", "lines.2", "lines.3"}
    assert "同一单位同一编制类型重复报送" in wrong.json["error"]["fields"]["lines.2"]
    assert _put(api("clerk1"), {"as_of": "2026-11-01", "source": "x", "lines": lines[:1]}).status_code == 403
    assert _put(api("reviewer1"), {"as_of": "2026-11-01", "source": "x", "lines": lines[:1]}).status_code == 403
    ok = _put(finance, {"as_of": "2026-11-01", "source": "区财政局", "lines": lines[:1]})
    assert ok.status_code == 200 and ok.json == {"saved": 1}
    again = _put(finance, {"as_of": "2026-11-01", "source": "区财政局（更正）", "lines": [{**lines[0], "paid": 27}]})
    assert again.status_code == 200  # the same date again replaces the line
    with app.app_context():
        latest = reconcile.latest_finance()
        assert latest[_unit(A01).id] == {"行政编制": (27, date(2026, 11, 1), "区财政局（更正）")}
        # once finance has reported anything, every paid unit is compared: A01 工勤 is missing
        found = [(f.item, f.actual) for f in reconcile.reconcile(_unit(A01))]
        assert found == [("行政编制", "财供 27 名"), ("工勤编制", "财政未报")]
