"""Unit lifecycle (create, rename, move, merge, abolish) and establishment adjustments (核增/核减,
消化, 划转, 职数, 内设机构): every change carries its document, is a chronicle entry, and the
ledger on a past date still rebuilds exactly. Demo figures (demo.py): B01 事业编制 40 approved /
33 on roll, B02 12 / 10, B06 15 / 15; A04 is the parent of B01 and B03."""
import io
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.documents.models import Document, DocumentLink
from bianzhi.errors import Conflict, ValidationFailed
from bianzhi.extensions import db
from bianzhi.accounts.models import User
from bianzhi.ledger import establishment
from bianzhi.ledger import units as lifecycle
from bianzhi.ledger.history import figures_as_of
from bianzhi.ledger.models import Absorption, ChronicleEntry, Department, Establishment, Person, PostQuota, Unit
from bianzhi.ledger.operations import figure
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, start
from tests.fixtures.pages import tiny_pdf
from tests.fixtures.race import race

B06_UNIT = "12330621B06000000X"
A04_UNIT = "12330621A04000000X"
NEW_CODE = "12330621MB1234567J"  # a valid 统一社会信用代码 (check digit J)


def doc(n=1, **kw):
    return lifecycle.Approval(number=f"绍柯编〔2026〕{n}号", issued_on=date(2026, 11, 2),
                              title=kw.pop("title", f"关于机构编制事项的批复（{n}）"), **kw)


def user(name="reviewer1"):
    return db.session.scalar(select(User).where(User.username == name))


def unit(code):
    db.session.expire_all()
    return db.session.scalar(select(Unit).where(Unit.code == code))


def totals():
    approved = db.session.scalar(select(func.sum(Establishment.approved)))
    on_roll = db.session.scalar(select(func.count()).select_from(Person).where(Person.status == "on_roll"))
    return approved, on_roll


def moment():
    """A point strictly between what is done and what comes next (chronicle times are compared)."""
    time.sleep(0.01)
    now = clock.now()
    time.sleep(0.01)
    return now


def as_of(code, when, category):
    return next(f for f in figures_as_of(unit(code), when) if f["category"] == category)


def entries(unit_obj, entity=None, action=None):
    query = select(ChronicleEntry).where(ChronicleEntry.unit_id == unit_obj.id)
    if entity:
        query = query.where(ChronicleEntry.entity == entity)
    if action:
        query = query.where(ChronicleEntry.action == action)
    return db.session.scalars(query.order_by(ChronicleEntry.id)).all()


# ------------------------------------------------------------------ create, rename, move

def test_create_validates_the_code_and_registers_the_document(ctx):
    with pytest.raises(ValidationFailed) as bad:
        lifecycle.create_unit(user(), doc(), "12330621MB1234567X", "柯桥区新设中心", "事业单位")
    assert "统一社会信用代码「12330621MB1234567X」无效" in bad.value.message
    created = lifecycle.create_unit(user(), doc(7), NEW_CODE.lower(), "绍兴市柯桥区数据资源中心", "事业单位",
                                    parent=unit(A04_UNIT), funding="全额", functions="负责全区公共数据归集")
    db.session.commit()
    with pytest.raises(ValidationFailed) as taken:
        lifecycle.create_unit(user(), doc(), NEW_CODE, "柯桥区新设中心", "事业单位")
    assert taken.value.message == f"统一社会信用代码 {NEW_CODE} 已被其他单位使用"
    db.session.rollback()
    created = unit(NEW_CODE)
    assert (created.status, created.parent.code, created.approval_doc, created.founded) == \
        ("active", A04_UNIT, "绍柯编〔2026〕7号", date(2026, 11, 2))
    [entry] = entries(created, "unit", "create")
    assert entry.after["document"] == "绍柯编〔2026〕7号" and entry.user.username == "reviewer1"
    document = db.session.scalar(select(Document).where(Document.number == "绍柯编〔2026〕7号"))
    assert db.session.scalar(select(DocumentLink).where(DocumentLink.document_id == document.id,
                                                        DocumentLink.chronicle_id == entry.id)) is not None


def test_rename_and_move_refuse_cycles(ctx):
    a04, b01 = unit(A04_UNIT), unit(CLERK1_UNIT)
    with pytest.raises(ValidationFailed) as cycle:
        lifecycle.move_unit(user(), a04, b01, doc(2))
    assert "不能把绍兴市柯桥区卫生健康局调整到其自身或其下属单位（绍兴市柯桥区疾病预防控制中心）之下" == cycle.value.message
    db.session.rollback()
    lifecycle.move_unit(user(), unit(CLERK1_UNIT), None, doc(2))
    lifecycle.rename_unit(user(), unit(CLERK1_UNIT), "绍兴市柯桥区疾病预防控制中心（区卫生监督所）", doc(3))
    db.session.commit()
    b01 = unit(CLERK1_UNIT)
    assert b01.parent_id is None and b01.name.endswith("（区卫生监督所）")
    [move] = entries(b01, "unit", "move")
    [rename] = entries(b01, "unit", "rename")
    assert move.before == {"parent": A04_UNIT} and move.after == {"parent": None, "document": "绍柯编〔2026〕2号"}
    assert rename.before == {"name": "绍兴市柯桥区疾病预防控制中心"}


# ------------------------------------------------------------------ abolish

def test_abolish_is_refused_while_people_are_on_the_roll_and_names_them(ctx):
    b02 = unit(CLERK2_UNIT)
    names = db.session.scalars(select(Person.name).where(Person.unit_id == b02.id, Person.status == "on_roll")
                               .order_by(Person.id)).all()
    assert len(names) == 10
    with pytest.raises(Conflict) as refused:
        lifecycle.abolish_unit(user(), b02, doc(4))
    assert refused.value.message == f"该单位仍有 10 名在编人员：{'、'.join(names)}，请先调出或办理出编"
    db.session.rollback()
    with pytest.raises(Conflict) as parent:
        people = db.session.scalars(select(Person).where(Person.unit_id == unit(A04_UNIT).id)).all()
        for p in people:
            p.status, p.left_date, p.left_reason = "left", date(2026, 10, 1), "调出"
        lifecycle.abolish_unit(user(), unit(A04_UNIT), doc(4))
    assert "该单位仍有下属单位：" in parent.value.message and "疾病预防控制中心" in parent.value.message


def test_abolish_is_refused_with_an_open_case(app, api):
    case = start(api("clerk2"), unit=CLERK2_UNIT, count=1)
    with app.app_context():
        for p in db.session.scalars(select(Person).where(Person.unit_id == unit(CLERK2_UNIT).id)):
            p.status, p.left_date, p.left_reason = "left", date(2026, 10, 1), "退休"
        with pytest.raises(Conflict) as refused:
            lifecycle.abolish_unit(user(), unit(CLERK2_UNIT), doc(4))
        assert refused.value.message == (f"绍兴市柯桥区档案馆还有 1 件在办案件（{case['number']}），"
                                         "请先办结或撤回后再撤销")


def test_abolished_unit_keeps_its_history(ctx):
    b02 = unit(CLERK2_UNIT)
    for p in db.session.scalars(select(Person).where(Person.unit_id == b02.id)):
        p.status, p.left_date, p.left_reason = "left", date(2026, 10, 1), "调出"
    db.session.commit()
    before = moment()
    lifecycle.abolish_unit(user(), unit(CLERK2_UNIT), doc(5))
    db.session.commit()
    b02 = unit(CLERK2_UNIT)
    assert (b02.status, b02.abolished_on) == ("abolished", date(2026, 11, 2))
    assert figure(b02, "事业编制")["approved"] == 0
    assert as_of(CLERK2_UNIT, before, "事业编制")["approved"] == 12  # replayed from the delta
    assert db.session.scalar(select(func.count()).select_from(Person).where(Person.unit_id == b02.id)) == 10
    assert all(q.approved == 0 for q in db.session.scalars(select(PostQuota).where(PostQuota.unit_id == b02.id)))
    assert b02 not in db.session.scalars(lifecycle.active_units()).all()
    with pytest.raises(Conflict, match="已撤销"):
        establishment.adjust_establishment(user(), b02, "事业编制", 3, doc(6))


# ------------------------------------------------------------------ merge

def test_merge_moves_people_figures_posts_departments_and_replays(ctx):
    b01, b02 = unit(CLERK1_UNIT), unit(CLERK2_UNIT)
    b02_people = set(db.session.scalars(select(Person.id).where(Person.unit_id == b02.id, Person.status == "on_roll")))
    in_office = db.session.scalar(select(Person).join(Department).where(Person.unit_id == b02.id,
                                                                        Department.name == "办公室"))
    district = totals()
    before = moment()
    lifecycle.merge_units(user(), b02, b01, doc(8))
    db.session.commit()
    b01, b02 = unit(CLERK1_UNIT), unit(CLERK2_UNIT)
    assert totals() == district  # nothing appears or disappears
    assert figure(b01, "事业编制") | {} == {"category": "事业编制", "approved": 52, "on_roll": 43, "reserved": 0,
                                        "vacancy": 9, "warning": "green"}
    assert figure(b02, "事业编制")["approved"] == 0 and figure(b02, "事业编制")["on_roll"] == 0
    assert (b02.status, b02.merged_into_id) == ("abolished", b01.id)
    moved = db.session.scalars(select(Person).where(Person.id.in_(b02_people))).all()
    assert {p.unit_id for p in moved} == {b01.id} and {p.work_unit_id for p in moved} == {b01.id}
    # same-named departments fold into the target's; people follow
    office = db.session.scalar(select(Department).where(Department.unit_id == b01.id, Department.name == "办公室"))
    assert db.session.get(Person, in_office.id).department_id == office.id
    assert db.session.scalar(select(func.count()).select_from(Department).where(Department.unit_id == b02.id)) == 0
    quotas = {(q.kind, q.level): q.approved
              for q in db.session.scalars(select(PostQuota).where(PostQuota.unit_id == b01.id))}
    assert quotas == {("leadership", "正职"): 2, ("leadership", "副职"): 4, ("midlevel", "正职"): 8, ("midlevel", "副职"): 8}
    # the past rebuilds exactly on both sides
    assert {k: as_of(CLERK1_UNIT, before, "事业编制")[k] for k in ("approved", "on_roll", "vacancy")} == \
        {"approved": 40, "on_roll": 33, "vacancy": 7}
    assert {k: as_of(CLERK2_UNIT, before, "事业编制")[k] for k in ("approved", "on_roll", "vacancy")} == \
        {"approved": 12, "on_roll": 10, "vacancy": 2}
    assert len(entries(b01, "person", "merge")) == 10


def test_merge_is_refused_while_the_source_has_open_cases(app, api):
    case = start(api("clerk2"), unit=CLERK2_UNIT, count=1)
    with app.app_context():
        with pytest.raises(Conflict) as refused:
            lifecycle.merge_units(user(), unit(CLERK2_UNIT), unit(CLERK1_UNIT), doc(9))
        assert case["number"] in refused.value.message and "请先办结或撤回后再合并" in refused.value.message
        with pytest.raises(ValidationFailed, match="不能把单位并入其自身"):
            lifecycle.merge_units(user(), unit(CLERK1_UNIT), unit(CLERK1_UNIT), doc(9))


# ------------------------------------------------------------------ establishment, 消化, 划转

def test_adjust_and_absorb_replay_exactly(ctx):
    t0 = moment()
    establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "事业编制", 45, doc(10))
    db.session.commit()
    t1 = moment()
    with pytest.raises(ValidationFailed) as over:
        establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "事业编制", 30, doc(11))
    assert over.value.message == ("调整后绍兴市柯桥区疾病预防控制中心事业编制核定 30 名，少于在编 33 名与预留 0 名之和，"
                                  "将超编 3 名；如确需调整，请选择「超编消化」并填写消化期限")
    db.session.rollback()
    target = clock.today() + timedelta(days=365)
    establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "事业编制", 30, doc(11), absorb_until=target)
    db.session.commit()
    t2 = moment()
    [warning] = lifecycle.absorption_warnings(unit(CLERK1_UNIT))
    assert (warning["excess"], warning["target_date"], warning["document"], warning["overdue"]) == \
        (3, target, "绍柯编〔2026〕11号", False)
    assert figure(unit(CLERK1_UNIT), "事业编制")["warning"] == "red"
    establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "事业编制", 34, doc(12))
    db.session.commit()
    assert lifecycle.absorption_warnings(unit(CLERK1_UNIT)) == []
    assert db.session.scalar(select(Absorption.status)) == "closed"
    assert [as_of(CLERK1_UNIT, t, "事业编制")["approved"] for t in (t0, t1, t2, clock.now())] == [40, 45, 30, 34]
    deltas = [e.delta["approved"] for e in entries(unit(CLERK1_UNIT), "establishment", "adjust")]
    assert deltas == [5, -15, 4]
    # a category the unit never had is added from 0, and replays as absent-before
    establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "工勤编制", 2, doc(13))
    db.session.commit()
    assert as_of(CLERK1_UNIT, clock.now(), "工勤编制")["approved"] == 2


def test_transfer_keeps_the_district_total(ctx):
    district = totals()
    t0 = moment()
    establishment.transfer_establishment(user(), unit(CLERK1_UNIT), unit(CLERK2_UNIT), "事业编制", 5, doc(14))
    db.session.commit()
    assert totals() == district
    assert figure(unit(CLERK1_UNIT), "事业编制")["approved"] == 35
    assert figure(unit(CLERK2_UNIT), "事业编制")["approved"] == 17
    out = entries(unit(CLERK1_UNIT), "establishment", "transfer")
    into = entries(unit(CLERK2_UNIT), "establishment", "transfer")
    assert [e.delta for e in out] == [{"category": "事业编制", "approved": -5}]
    assert [e.delta for e in into] == [{"category": "事业编制", "approved": 5}]
    assert as_of(CLERK1_UNIT, t0, "事业编制")["approved"] == 40 and as_of(CLERK2_UNIT, t0, "事业编制")["approved"] == 12
    # B01 has 2 left (35 − 33): 3 more only as a deliberate 消化
    with pytest.raises(ValidationFailed) as short:
        establishment.transfer_establishment(user(), unit(CLERK1_UNIT), unit(CLERK2_UNIT), "事业编制", 3, doc(15))
    assert "空编 2 名" in short.value.message and "将超编 1 名" in short.value.message
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="空编 0 名"):
        establishment.transfer_establishment(user(), unit(B06_UNIT), unit(CLERK2_UNIT), "事业编制", 1, doc(15))
    db.session.rollback()
    establishment.transfer_establishment(user(), unit(CLERK1_UNIT), unit(CLERK2_UNIT), "事业编制", 3, doc(15),
                                     absorb_until=clock.today() + timedelta(days=90))
    db.session.commit()
    assert totals() == district
    assert [w["excess"] for w in lifecycle.absorption_warnings(unit(CLERK1_UNIT))] == [1]


def test_posts_and_departments(ctx):
    b01 = unit(CLERK1_UNIT)
    holders = db.session.scalars(select(Person.name).where(Person.unit_id == b01.id, Person.midlevel_post == "正职")
                                 .order_by(Person.id)).all()
    assert len(holders) == 3
    with pytest.raises(ValidationFailed) as below:
        establishment.adjust_post_quota(user(), b01, "midlevel", "正职", 2, doc(16))
    assert below.value.message == (f"绍兴市柯桥区疾病预防控制中心现有中层正职 3 人（{'、'.join(holders)}），"
                                   "核定数不能少于 3 名；请先办理免职")
    db.session.rollback()
    establishment.adjust_post_quota(user(), unit(CLERK1_UNIT), "midlevel", "正职", 3, doc(16))
    dept = establishment.add_department(user(), unit(CLERK1_UNIT), "应急管理科", doc(17))
    with pytest.raises(ValidationFailed, match="已有内设机构「应急管理科」"):
        establishment.add_department(user(), unit(CLERK1_UNIT), "应急管理科", doc(17))
    establishment.rename_department(user(), unit(CLERK1_UNIT), dept.id, "应急与卫生监督科", doc(18))
    office = db.session.scalar(select(Department).where(Department.unit_id == b01.id, Department.name == "办公室"))
    staff = db.session.scalars(select(Person.name).where(Person.department_id == office.id, Person.status == "on_roll")
                               .order_by(Person.id)).all()
    with pytest.raises(Conflict) as busy:
        establishment.remove_department(user(), unit(CLERK1_UNIT), office.id, doc(19))
    assert busy.value.message.startswith(f"内设机构办公室仍有 {len(staff)} 名在编人员：{staff[0]}")
    establishment.remove_department(user(), unit(CLERK1_UNIT), dept.id, doc(19))
    db.session.commit()
    b01 = unit(CLERK1_UNIT)
    assert [e.action for e in entries(b01, "department")] == ["add", "rename", "remove"]
    assert [e.after.get("approved") for e in entries(b01, "post_quota")] == [3]


# ------------------------------------------------------------------ pages and API

def test_pages_change_with_a_document_and_show_refusals(app, client):
    login(client, "reviewer1")
    page = client.get(f"/registers/units/{CLERK2_UNIT}")
    assert page.status_code == 200 and "撤销单位" in page.get_data(as_text=True)
    token = csrf_token(client, f"/registers/units/{CLERK2_UNIT}")
    refused = client.post(f"/registers/units/{CLERK2_UNIT}/abolish",
                          data={"csrf_token": token, "doc_number": "绍柯编〔2026〕20号", "doc_date": "2026-11-02"})
    assert refused.status_code == 409 and "该单位仍有 10 名在编人员" in refused.get_data(as_text=True)
    missing = client.post(f"/registers/units/{CLERK2_UNIT}/establishment",
                          data={"csrf_token": token, "category": "事业编制", "approved": "14"})
    assert missing.status_code == 422 and "请填写批准文号" in missing.get_data(as_text=True)
    done = client.post(f"/registers/units/{CLERK2_UNIT}/establishment",
                       data={"csrf_token": token, "category": "事业编制", "approved": "14",
                             "doc_number": "绍柯编〔2026〕21号", "doc_date": "2026-11-02"})
    assert done.status_code == 302
    shown = client.get(f"/registers/units/{CLERK2_UNIT}").get_data(as_text=True)
    assert "事业编制核定数已调整为 14 名" in shown and "绍柯编〔2026〕21号" in shown
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "unit.establishment")).all()
        assert entry.target == f"unit:{CLERK2_UNIT}" and entry.detail["document"] == "绍柯编〔2026〕21号"
    # leaders read, never change
    leader = login(app.test_client(), "leader1")
    assert "撤销单位" not in leader.get(f"/registers/units/{CLERK2_UNIT}").get_data(as_text=True)
    assert leader.post(f"/registers/units/{CLERK2_UNIT}/establishment",
                       data={"csrf_token": csrf_token(leader, "/login")}).status_code == 403


def test_api_creates_and_adjusts(api):
    admin = api("admin")
    created = admin.post("/api/v1/units", json={
        "code": NEW_CODE, "name": "绍兴市柯桥区数据资源中心", "kind": "事业单位", "parent": A04_UNIT,
        "functions": "负责全区公共数据归集", "document": {"number": "绍柯编〔2026〕30号", "date": "2026-11-02"}})
    assert created.status_code == 201, created.json
    assert (created.json["status"], created.json["document"], created.json["parent"]) == \
        ("active", "绍柯编〔2026〕30号", A04_UNIT)
    adjusted = admin.post(f"/api/v1/units/{NEW_CODE}/establishment", json={
        "category": "事业编制", "approved": 8, "document": {"number": "绍柯编〔2026〕31号", "date": "2026-11-02"}})
    assert adjusted.status_code == 200, adjusted.json
    assert adjusted.json["establishment"][0] | {} == {"category": "事业编制", "approved": 8, "on_roll": 0, "reserved": 0,
                                                     "vacancy": 8, "warning": "green"}
    over = admin.post(f"/api/v1/units/{CLERK1_UNIT}/establishment", json={
        "category": "事业编制", "approved": 32, "document": {"number": "绍柯编〔2026〕32号", "date": "2026-11-02"}})
    assert over.status_code == 422 and over.json["error"]["code"] == "would_be_over"
    target = (clock.today() + timedelta(days=200)).isoformat()
    absorbed = admin.post(f"/api/v1/units/{CLERK1_UNIT}/establishment", json={
        "category": "事业编制", "approved": 32, "absorb_until": target,
        "document": {"number": "绍柯编〔2026〕32号", "date": "2026-11-02"}})
    assert absorbed.status_code == 200, absorbed.json
    assert absorbed.json["absorptions"] == [{"category": "事业编制", "excess": 1, "target_date": target,
                                             "document": "绍柯编〔2026〕32号"}]
    details = admin.get(f"/api/v1/units/{NEW_CODE}").json
    assert details["status"] == "active" and details["functions"] == "负责全区公共数据归集"
    assert api("clerk1").post("/api/v1/units", json={}).status_code == 403


@pytest.mark.commits  # racing threads, each on a connection of its own
def test_two_transfers_racing_for_the_last_places_one_wins(app, api):
    """B02 has 2 vacant places; two bureau users transfer 2 each at the same moment."""
    with app.app_context():
        district = totals()
    reviewer, admin = api("reviewer1"), api("admin")

    def transfer(client, target, n):
        return lambda: client.post(f"/api/v1/units/{CLERK2_UNIT}/transfer", json={
            "category": "事业编制", "count": 2, "target": target,
            "document": {"number": f"绍柯编〔2026〕5{n}号", "date": "2026-11-02"}})
    first, second = race(transfer(reviewer, CLERK1_UNIT, 1), transfer(admin, B06_UNIT, 2))
    assert sorted([first.status_code, second.status_code]) == [200, 422], (first.json, second.json)
    loser = first if first.status_code == 422 else second
    assert "空编 0 名" in loser.json["error"]["message"] and loser.json["error"]["code"] == "would_be_over"
    with app.app_context():
        assert totals() == district
        assert approved_of(CLERK2_UNIT) == 10
        assert approved_of(CLERK1_UNIT) + approved_of(B06_UNIT) == 57


def approved_of(code):
    return figure(unit(code), "事业编制")["approved"]


def test_create_page_refuses_a_bad_code_and_creates_a_good_one(client):
    login(client, "admin")
    form = {"csrf_token": csrf_token(client, "/registers/units/new"), "code": "12330621MB1234567X",
            "name": "绍兴市柯桥区数据资源中心", "kind": "事业单位", "parent": A04_UNIT, "funding": "全额",
            "doc_number": "绍柯编〔2026〕60号", "doc_date": "2026-11-02", "doc_title": "关于设立区数据资源中心的批复"}
    bad = client.post("/registers/units/new", data=form)
    assert bad.status_code == 422 and "校验位正确" in bad.get_data(as_text=True)
    good = client.post("/registers/units/new", data=form | {"code": NEW_CODE})
    assert good.status_code == 302 and good.headers["Location"].endswith(f"/registers/units/{NEW_CODE}")
    listed = client.get("/registers/units").get_data(as_text=True)
    assert "绍兴市柯桥区数据资源中心" in listed and "绍柯编〔2026〕60号" in listed
    assert "绍兴市柯桥区数据资源中心" not in client.get("/registers/units?status=abolished").get_data(as_text=True)


def test_the_document_pdf_is_kept_and_a_registered_number_is_reused(app, client):
    login(client, "reviewer1")
    path = f"/registers/units/{CLERK1_UNIT}"
    form = {"csrf_token": csrf_token(client, path), "category": "事业编制", "approved": "42",
            "doc_number": "绍柯编 [2026] 70号", "doc_date": "2026-11-02", "doc_title": "关于区疾控中心核增事业编制的批复",
            "doc_pdf": (io.BytesIO(tiny_pdf("批复")), "批复.pdf")}
    assert client.post(f"{path}/establishment", data=form, content_type="multipart/form-data").status_code == 302
    again = {"csrf_token": form["csrf_token"], "kind": "midlevel", "level": "副职", "approved": "5",
             "doc_number": "绍柯编〔2026〕70号", "doc_date": "2026-11-02"}
    assert client.post(f"{path}/posts", data=again, content_type="multipart/form-data").status_code == 302
    with app.app_context():
        [document] = db.session.scalars(select(Document).where(Document.number.like("%70号"))).all()
        assert (document.number, document.title, document.pdf[:5]) == \
            ("绍柯编〔2026〕70号", "关于区疾控中心核增事业编制的批复", b"%PDF-")
        grounded = db.session.scalars(select(ChronicleEntry.entity).join(
            DocumentLink, DocumentLink.chronicle_id == ChronicleEntry.id).where(DocumentLink.document_id == document.id)
            .order_by(ChronicleEntry.id)).all()
        assert grounded == ["establishment", "post_quota"]


def _abolish_clerk2_unit(app):
    with app.app_context():
        b02 = unit(CLERK2_UNIT)
        for p in db.session.scalars(select(Person).where(Person.unit_id == b02.id)):
            p.status, p.left_date, p.left_reason = "left", date(2026, 10, 1), "调出"
        db.session.commit()
        lifecycle.abolish_unit(user(), unit(CLERK2_UNIT), doc(5))
        db.session.commit()
        return b02.name


def test_an_abolished_unit_leaves_the_lists_and_its_clerk_starts_nothing(app, client, api):
    name = _abolish_clerk2_unit(app)
    login(client, "reviewer1")
    assert name not in client.get("/units").get_data(as_text=True)
    everything = client.get("/units?all=1").get_data(as_text=True)
    assert name in everything and "已撤销" in everything
    assert "已撤销" in client.get(f"/units/{CLERK2_UNIT}").get_data(as_text=True)  # its page and history stay
    assert name not in client.get("/public/units").get_data(as_text=True)
    refused = api("clerk2").post("/api/v1/cases", json={"process": "staff_exit", "data": {}})
    assert refused.status_code == 403 and refused.json["error"]["message"] == f"{name}已撤销，不能再发起申请"


def test_the_unit_page_shows_what_is_to_be_absorbed(app, client):
    target = clock.today() + timedelta(days=365)
    with app.app_context():
        establishment.adjust_establishment(user(), unit(CLERK1_UNIT), "事业编制", 30, doc(11), absorb_until=target)
        db.session.commit()
    login(client, "clerk1")
    page = client.get(f"/units/{CLERK1_UNIT}").get_data(as_text=True)
    assert f"事业编制超编 3 名待消化（绍柯编〔2026〕11号 核定，期限 {target.isoformat()}）" in page
