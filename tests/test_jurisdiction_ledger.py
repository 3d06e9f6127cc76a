"""The ledger within an office's jurisdiction (issue 15, items 1 and 4): an editor changes only the
units of their office and the offices below it; a new unit belongs to its parent's office and
section, else to its creator's office; documents, people, 四清两对应, the finance exchange and the
audit log each read the reader's jurisdiction. The demo: 柯桥 (330603) and 越城 (330602) under the
city (330600); clerk_b1's unit is 越城区图书馆."""
import json
from datetime import date

import pytest
from sqlalchemy import select

from bianzhi.accounts.models import User
from bianzhi.documents import operations as documents
from bianzhi.errors import Forbidden, NotFound, ValidationFailed
from bianzhi.extensions import db
from bianzhi.ledger import establishment, reconcile
from bianzhi.ledger import operations as ledger
from bianzhi.ledger import records
from bianzhi.ledger import units as lifecycle
from bianzhi.ledger.models import Person, Unit
from bianzhi.organisation.models import Office, Section
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, approve_through, start

A04_UNIT = "12330621A04000000X"  # 柯桥 卫生健康局 (机关编制科), parent of CLERK1_UNIT
LIBRARY = "12330602B01000000X"  # 越城区图书馆 (综合编制科)
YC_SCHOOL = "12330602B02000000X"  # 越城区第一中学
NEW_CODE = "12330621MB1234567J"  # valid 统一社会信用代码s
NEW_CODE_2 = "12330602MB12345672"


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def unit(code):
    return db.session.scalar(select(Unit).where(Unit.code == code))


def office(code):
    return db.session.scalar(select(Office).where(Office.code == code))


def doc(n):
    return lifecycle.Approval(number=f"绍编〔2026〕{n}号", issued_on=date(2026, 11, 2), title="批复")


def test_a_new_unit_takes_its_parents_office_and_section_else_its_creators_office(ctx):
    a04 = unit(A04_UNIT)
    child = lifecycle.create_unit(user("reviewer1"), doc(1), NEW_CODE, "绍兴市柯桥区卫生监督所", "事业单位", parent=a04)
    assert (child.office_id, child.section_id) == (a04.office_id, a04.section_id)
    assert db.session.get(Section, child.section_id).code == "jg"
    # the city sets up a unit under a 越城 unit: 越城's, in 越城's section
    library = unit(LIBRARY)
    branch = lifecycle.create_unit(user("city_reviewer1"), doc(2), NEW_CODE_2, "绍兴市越城区图书馆分馆", "事业单位",
                                   parent=library)
    assert (branch.office_id, branch.section_id) == (office("330602").id, library.section_id)
    # at the top level: the creator's office, no section until an admin assigns one
    top = lifecycle.create_unit(user("reviewer_b1"), doc(3), "12330602MB7654321Y", "绍兴市越城区数据局", "党政机关")
    assert (top.office_id, top.section_id) == (office("330602").id, None)
    db.session.flush()
    assert top in db.session.scalars(select(Unit).where(ledger.visible_units(user("reviewer_b1")))).all()
    assert top not in db.session.scalars(select(Unit).where(ledger.visible_units(user("reviewer1")))).all()


def test_an_editor_changes_only_units_of_their_office_and_below(ctx):
    reviewer_b1, library, cdc = user("reviewer_b1"), unit(LIBRARY), unit(CLERK1_UNIT)
    with pytest.raises(Forbidden) as refused:
        establishment.adjust_establishment(reviewer_b1, cdc, "事业编制", 41, doc(4))
    assert refused.value.message == "绍兴市柯桥区疾病预防控制中心不属于本编办辖区，不能调整"
    for attempt in (lambda: lifecycle.rename_unit(reviewer_b1, cdc, "新名称", doc(5)),
                    lambda: lifecycle.abolish_unit(reviewer_b1, cdc, doc(5)),
                    lambda: lifecycle.merge_units(reviewer_b1, library, cdc, doc(5)),
                    lambda: establishment.transfer_establishment(reviewer_b1, library, cdc, "事业编制", 1, doc(5)),
                    lambda: establishment.add_department(reviewer_b1, cdc, "新科室", doc(5)),
                    lambda: lifecycle.create_unit(reviewer_b1, doc(5), NEW_CODE, "柯桥新单位", "事业单位", parent=cdc)):
        with pytest.raises(Forbidden):
            attempt()
    # a unit moves only under a parent of its own office, even for the city that reads both
    with pytest.raises(ValidationFailed) as moved:
        lifecycle.move_unit(user("city_reviewer1"), library, cdc, doc(6))
    assert moved.value.fields == {"parent": ["上级单位须属于同一编办"]}
    # the city changes its counties' units; 越城 its own
    establishment.adjust_establishment(user("city_reviewer1"), cdc, "事业编制", 41, doc(7))
    establishment.adjust_establishment(reviewer_b1, library, "事业编制", 15, doc(8))
    assert ledger.figure(cdc, "事业编制")["approved"] == 41 and ledger.figure(library, "事业编制")["approved"] == 15


def test_the_register_pages_and_api_answer_another_offices_unit_as_unknown(app, api):
    page = login(app.test_client(), "reviewer_b1")
    listing = page.get("/registers/units").get_data(as_text=True)
    assert "绍兴市越城区图书馆" in listing and "柯桥" not in listing.split("<main")[1]
    assert page.get(f"/registers/units/{CLERK1_UNIT}").status_code == 404
    token = csrf_token(page, f"/registers/units/{LIBRARY}")
    form = {"csrf_token": token, "doc_number": "越编〔2026〕1号", "doc_date": "2026-11-02"}
    assert page.post(f"/registers/units/{CLERK1_UNIT}/rename", data={**form, "name": "x"}).status_code == 404
    # naming another office's unit as a target is as naming none
    merged = page.post(f"/registers/units/{LIBRARY}/merge", data={**form, "target": CLERK2_UNIT})
    assert merged.status_code == 422 and f"没有统一社会信用代码为 {CLERK2_UNIT} 的单位" in merged.get_data(as_text=True)
    assert CLERK1_UNIT not in page.get(f"/registers/units/{LIBRARY}").get_data(as_text=True)  # no target offered
    assert CLERK1_UNIT not in page.get("/registers/units/new").get_data(as_text=True)  # no parent offered
    body = {"category": "事业编制", "approved": 41, "document": {"number": "越编〔2026〕2号", "date": "2026-11-02"}}
    assert api("reviewer_b1").post(f"/api/v1/units/{CLERK1_UNIT}/establishment", json=body).status_code == 404
    created = api("reviewer_b1").post("/api/v1/units", json={
        "code": NEW_CODE, "name": "越城新单位", "kind": "事业单位", "parent": CLERK1_UNIT,
        "document": {"number": "越编〔2026〕3号", "date": "2026-11-02"}})
    assert created.status_code == 422 and created.json["error"]["fields"] == {"parent": ["单位不存在"]}
    moved = api("reviewer_b1").post(f"/api/v1/units/{LIBRARY}/transfer", json={
        "category": "事业编制", "count": 1, "target": CLERK1_UNIT,
        "document": {"number": "越编〔2026〕4号", "date": "2026-11-02"}})
    assert moved.status_code == 422 and "target" in moved.json["error"]["fields"]
    city = login(app.test_client(), "city_reviewer1").get("/registers/units").get_data(as_text=True)
    assert "绍兴市越城区图书馆" in city and "绍兴市柯桥区疾病预防控制中心" in city


def test_people_are_read_within_the_jurisdiction(ctx):
    keqiao = db.session.scalar(select(Person).join(Unit, Unit.id == Person.unit_id).where(Unit.code == CLERK1_UNIT)
                               .order_by(Person.code).limit(1))
    for name in ("reviewer1", "leader1", "auditor1", "admin", "city_reviewer1", "city_leader1", "clerk1"):
        assert records.get_person(user(name), keqiao.code) is keqiao, name
    for name in ("reviewer_b1", "leader_b1", "clerk_b1", "clerk2", "zzb1", "finance1"):
        with pytest.raises(NotFound):
            records.get_person(user(name), keqiao.code)
    rows = records.district_completeness(ledger.in_jurisdiction(user("reviewer_b1")))
    assert sorted(u.code for u, *_ in rows) == sorted(u.code for u in db.session.scalars(
        select(Unit).where(Unit.office_id == office("330602").id)))


def test_documents_an_editor_links_and_what_each_office_reads_of_them(ctx):
    reviewer_b1, library, cdc = user("reviewer_b1"), unit(LIBRARY), unit(CLERK1_UNIT)
    with pytest.raises(ValidationFailed) as refused:
        documents.upload(reviewer_b1, "越编〔2026〕9号", "批复", "2026-11-02", "批复", None, [cdc.id], "", None)
    assert refused.value.fields == {"unit_ids": ["单位不存在"]}
    mine = documents.upload(reviewer_b1, "越编〔2026〕9号", "关于图书馆的批复", "2026-11-02", "批复", None,
                            [library.id], "", None)
    # a document linked to no unit stays its registrar's office's
    unlinked = documents.upload(reviewer_b1, "越编〔2026〕10号", "全区机构编制工作要点", "2026-11-02", "通知", None,
                                [], "", None)
    with pytest.raises(ValidationFailed):
        documents.add_unit(reviewer_b1, mine, cdc.id)
    # the city links one document to a unit of each district: each district reads it, and only its own link
    shared = documents.upload(user("city_reviewer1"), "绍市编〔2026〕1号", "关于两区编制划转的批复", "2026-11-02", "批复",
                              None, [library.id, cdc.id], "", None)
    db.session.flush()
    for name, expected in [("reviewer_b1", {mine.id, unlinked.id, shared.id}), ("reviewer1", {shared.id}),
                           ("city_reviewer1", {mine.id, unlinked.id, shared.id}), ("clerk1", {shared.id})]:
        readable = {d.id for d in (mine, unlinked, shared) if documents.can_view(user(name), d)}
        assert readable == expected, name
    reads = documents.unit_reader(user("reviewer1"))
    assert [u.code for u in documents.linked_units(shared) if reads(u.id)] == [CLERK1_UNIT]
    assert not documents.can_view(user("zzb1"), shared)


def test_reconciliation_covers_the_readers_jurisdiction(app, api):
    district = login(app.test_client(), "reviewer_b1").get("/reconciliation").get_data(as_text=True)
    assert "本辖区 4 个单位" in district
    assert "本辖区 11 个单位" in login(app.test_client(), "reviewer1").get("/reconciliation").get_data(as_text=True)
    assert "本辖区 15 个单位" in login(app.test_client(), "city_leader1").get("/reconciliation").get_data(as_text=True)
    findings = api("reviewer1").get("/api/v1/reconciliation").json["findings"]
    assert findings and all(f["unit_code"].startswith("12330621") for f in findings)  # 融媒体中心 over establishment
    assert api("reviewer_b1").get("/api/v1/reconciliation").json["findings"] == []
    with app.app_context():
        assert [f.unit_code for f in reconcile.reconcile(within=ledger.in_jurisdiction(user("city_admin1")))] \
            == [f["unit_code"] for f in findings]


def test_the_exchange_reads_the_callers_jurisdiction(api):
    assert len(api("finance1").get("/api/v1/finance/headcounts").json["units"]) == 11  # 柯桥's finance bureau
    yuecheng = api("leader_b1").get("/api/v1/finance/headcounts").json["units"]
    assert sorted(u["code"][:8] for u in yuecheng) == ["12330602"] * 4
    assert len(api("city_leader1").get("/api/v1/finance/headcounts").json["units"]) == 15
    city = json.loads(api("city_admin1").get("/api/v1/ledger/export").get_data(as_text=True))
    keqiao = json.loads(api("admin").get("/api/v1/ledger/export").get_data(as_text=True))
    assert (len(city["units"]), len(keqiao["units"])) == (15, 11)
    assert len(keqiao["people"]) == 341 and len(city["people"]) == 341 + 22 + 14 + 11 + 45
    assert {p["unit"] for p in city["people"]} <= {u["code"] for u in city["units"]}


def test_the_audit_log_of_an_office_holds_its_users_and_its_units_and_cases(app, api):
    """What we chose: an auditor or admin reads the entries written by a user of their jurisdiction
    (its bureau staff, its units' clerks, its partner departments), the entries about a unit, case,
    user or office of it whoever wrote them (the city's act on a county's case is in the county's
    log), and the entries written by nobody about nothing of any office (the installation's own)."""
    keqiao_case = approve_through(api("reviewer1"), api("leader1"), start(api("clerk1"), count=1))
    yuecheng_case = start(api("clerk_b1"), unit=LIBRARY, count=1)
    login(app.test_client(), "city_reviewer1")  # the city's own login: the city's log, not 柯桥's
    with app.app_context():
        from bianzhi.audit.operations import record
        record(None, "login.failed", None, username="nobody-knows")  # an unknown name: the installation's
        record(user("city_reviewer1"), "unit.roster.view", f"unit:{CLERK1_UNIT}")  # the city on 柯桥's unit
        db.session.commit()

    def seen(reader, **filters):
        csv = login(app.test_client(), reader).get("/audit/export.csv", query_string=filters)
        assert csv.status_code == 200
        return csv.data.decode("utf-8-sig")

    keqiao = seen("auditor1")
    assert f"case:{keqiao_case['id']}" in keqiao and f"case:{yuecheng_case['id']}" not in keqiao
    assert "clerk_b1" not in keqiao and "reviewer_b1" not in keqiao and "nobody-knows" in keqiao
    assert "city_reviewer1" in seen("auditor1", target=f"unit:{CLERK1_UNIT}")  # about 柯桥's unit
    assert "city_reviewer1" not in seen("auditor1", username="city_reviewer1", action="login")
    city = seen("city_admin1")
    assert "city_reviewer1,login," in seen("city_admin1", username="city_reviewer1", action="login")
    assert f"case:{keqiao_case['id']}" in city and f"case:{yuecheng_case['id']}" in city
    assert f"case:{keqiao_case['id']}" not in seen("city_admin1", username="clerk_b1")


def test_an_establishment_transfer_is_drawn_from_a_unit_of_the_same_office(api):
    refused = api("clerk1").post("/api/v1/cases", json={"process": "establishment_adjust", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "change": 1, "transfer_from": YC_SCHOOL,
        "reason": "从越城区划入"}})
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["fields"] == {"transfer_from": ["请填写本辖区划出单位的统一社会信用代码"]}
    assert api("clerk1").post("/api/v1/cases", json={"process": "establishment_adjust", "data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "change": 1, "transfer_from": CLERK2_UNIT,
        "reason": "从档案馆划入"}}).status_code == 201
