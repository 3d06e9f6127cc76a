"""Person records: the unit's clerk edits non-key fields (each edit a chronicle entry), key fields
only change through processes, other units' people stay out of reach, the photo is checked by
its bytes, and the completeness score counts what is filled."""
import io
import struct
import zlib

from sqlalchemy import select

from bianzhi.extensions import db
from bianzhi.ledger import records
from bianzhi.ledger.models import ChronicleEntry, Department, Person, PersonPhoto
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT
from tests.fixtures.people import people_of, person_named, unit_of


def _patch(api_user, code, body):
    return api_user.client.patch(f"/api/v1/people/{code}", headers=api_user.headers, json=body)


def _png():
    """A real 1×1 PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _entries(person_id):
    db.session.expire_all()
    return db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.entity == "person",
                                                           ChronicleEntry.entity_id == person_id)
                              .order_by(ChronicleEntry.id)).all()


def test_clerk_edits_non_key_fields_and_the_chronicle_keeps_before_and_after(app, api, ctx):
    target = people_of()[0]
    old_education = target.education
    clerk = api("clerk1")
    new_education = "研究生" if old_education != "研究生" else "大学本科"
    response = _patch(clerk, target.code, {"fields": {"phone": "13800138000", "education": new_education,
                                                      "political_status": "中共党员", "ethnicity": "汉族"},
                                           "reason": "年审核对更正"})
    assert response.status_code == 200, response.json
    assert response.json["fields"]["phone"] == "13800138000"
    assert response.json["fields"]["education"] == new_education
    entries = _entries(target.id)
    assert len(entries) == 1
    entry = entries[0]
    # the demo person has ethnicity 汉族 already: unchanged fields are not in the entry
    assert entry.before == {"phone": None, "education": old_education, "political_status": None}
    assert entry.after == {"phone": "13800138000", "education": new_education, "political_status": "中共党员"}
    assert entry.delta is None and entry.action == "edit" and entry.user.username == "clerk1"
    assert entry.unit_id == unit_of().id and "年审核对更正" in entry.summary
    person = person_named(target.code)
    assert person.details["phone"] == "13800138000" and person.education == new_education
    # the same values again: nothing changed, nothing chronicled
    again = _patch(clerk, target.code, {"phone": "13800138000"})
    assert again.status_code == 200 and again.json["chronicle_id"] is None
    assert len(_entries(target.id)) == 1


def test_key_field_refused_with_422_and_nothing_written(app, api, ctx):
    target = people_of()[0]
    response = _patch(api("clerk1"), target.code, {"fields": {"category": "行政编制", "phone": "13800138000"}})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "key_field"
    assert "「编制类型」等关键字段只能通过业务流程变更" in error["message"]
    assert error["fields"] == {"category": ["「编制类型」只能通过业务流程变更"]}
    for key in ("unit_id", "status", "post", "id_number", "entry_date"):
        assert _patch(api("clerk1"), target.code, {key: "x"}).status_code == 422
    assert person_named(target.code).category == "事业编制"
    assert "phone" not in (person_named(target.code).details or {})
    assert _entries(target.id) == []


def test_bad_values_are_named_per_field(app, api, ctx):
    target = people_of()[0]
    response = _patch(api("clerk1"), target.code, {"phone": "12345", "party_date": "2999-01-01",
                                                   "health": "很好", "department": "不存在的科", "shoe_size": "42"})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"phone", "party_date", "health", "department", "shoe_size"}
    assert "手机号" in fields["phone"][0] and "不能晚于今天" in fields["party_date"][0]
    assert "健康" in fields["health"][0] and "不存在的科" in fields["department"][0]
    assert fields["shoe_size"] == ["没有这个字段"]
    before_birth = _patch(api("clerk1"), target.code, {"graduation_date": "1900-01-01"})
    assert "不能早于出生日期" in before_birth.json["error"]["fields"]["graduation_date"][0]


def test_other_units_clerk_cannot_see_or_change_and_bureau_only_reads(app, api, ctx):
    target = people_of()[0]
    clerk2 = api("clerk2")
    assert clerk2.get(f"/api/v1/people/{target.code}").status_code == 404
    assert _patch(clerk2, target.code, {"phone": "13800138000"}).status_code == 404
    reviewer = api("reviewer1")
    read = reviewer.get(f"/api/v1/people/{target.code}")
    assert read.status_code == 200 and read.json["editable"] is False
    assert read.json["id_number"] == target.id_number  # the section sees it in full
    refused = _patch(reviewer, target.code, {"phone": "13800138000"})
    assert refused.status_code == 403
    leader = api("leader1").get(f"/api/v1/people/{target.code}").json
    assert leader["id_number"] == target.id_number[:6] + "********" + target.id_number[-4:]
    assert _entries(target.id) == []


def test_page_edit_with_csrf_and_refusal_shown(app, client):
    with app.app_context():  # pages are requested outside it: each request has its own g
        target = people_of()[0]
    login(client, "clerk1")
    page = client.get(f"/people/{target.code}")
    assert page.status_code == 200 and 'id="person-form"' in page.get_data(as_text=True)
    token = csrf_token(client, f"/people/{target.code}")
    assert client.post(f"/people/{target.code}", data={"phone": "0575-84123456"}).status_code == 400  # no CSRF
    saved = client.post(f"/people/{target.code}", data={"csrf_token": token, "phone": "0575-84123456",
                                                         "title": "主管技师"})
    assert saved.status_code == 302
    with app.app_context():
        assert person_named(target.code).details["title"] == "主管技师"
    bad = client.post(f"/people/{target.code}", data={"csrf_token": token, "phone": "abc"})
    assert bad.status_code == 422 and "固定电话" in bad.get_data(as_text=True)
    other = login(app.test_client(), "clerk2")
    assert other.get(f"/people/{target.code}").status_code == 404
    reader = login(app.test_client(), "auditor1")
    body = reader.get(f"/people/{target.code}").get_data(as_text=True)
    assert 'id="person-form"' not in body and "主管技师" in body


def test_department_limited_to_own_unit_and_post_holders(app, api, ctx):
    target = people_of(holders=False)[0]
    holder = people_of(holders=True)[0]
    own = db.session.scalars(select(Department).where(Department.unit_id == unit_of().id).order_by(Department.id)).all()
    other = [d for d in own if d.id != target.department_id][0]
    ok = _patch(api("clerk1"), target.code, {"department": other.name})
    assert ok.status_code == 200 and person_named(target.code).department_id == other.id
    moved = [d for d in own if d.id != holder.department_id][0]
    refused = _patch(api("clerk1"), holder.code, {"department": moved.name})
    assert refused.status_code == 422 and "中层核职" in refused.json["error"]["fields"]["department"][0]


def test_photo_upload_checked_by_bytes_and_served_with_auth(app, client):
    with app.app_context():
        target = people_of()[0]
    login(client, "clerk1")
    token = csrf_token(client, f"/people/{target.code}")
    fake = client.post(f"/people/{target.code}/photo", data={"csrf_token": token,
                       "photo": (io.BytesIO(b"GIF89a not a jpeg"), "me.jpg")}, content_type="multipart/form-data")
    assert fake.status_code == 422 and "JPEG" in fake.get_data(as_text=True)
    assert records.PHOTO_MAX_BYTES == 2 * 1024 * 1024
    app.config["PHOTO_MAX_BYTES"] = 1024  # small, so the test body stays in memory
    try:
        huge = client.post(f"/people/{target.code}/photo", data={"csrf_token": token,
                           "photo": (io.BytesIO(b"\xff\xd8\xff" + b"0" * 1024), "big.jpg")},
                           content_type="multipart/form-data")
    finally:
        del app.config["PHOTO_MAX_BYTES"]
    assert huge.status_code == 422 and "上限 1 KB" in huge.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(PersonPhoto).where(PersonPhoto.person_id == target.id)) is None
    png = _png()
    ok = client.post(f"/people/{target.code}/photo", data={"csrf_token": token, "photo": (io.BytesIO(png), "me.png")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    served = client.get(f"/people/{target.code}/photo")
    assert served.status_code == 200 and served.data == png and served.mimetype == "image/png"
    assert login(app.test_client(), "clerk2").get(f"/people/{target.code}/photo").status_code == 404
    assert app.test_client().get(f"/people/{target.code}/photo").status_code == 302  # to the login page
    with app.app_context():
        assert [e.action for e in _entries(target.id)] == ["photo"]


def test_completeness_per_person_unit_and_district(app, api, ctx):
    unit = unit_of(CLERK2_UNIT)  # 档案馆: 10 on roll, demo records hold 学历, 民族 and a 内设机构
    people = db.session.scalars(select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll")
                                .order_by(Person.code)).all()
    assert len(people) == 10
    expected = len(records.EXPECTED)  # 18 fields
    assert expected == 18
    base = round(100 * 3 / expected)  # 17 %
    scores = records.people_completeness(unit)
    assert {pct for pct, _ in scores.values()} == {base}
    assert "联系电话" in scores[people[0].id][1] and "学历" not in scores[people[0].id][1]
    fill = {"native_place": "浙江绍兴", "birthplace": "浙江绍兴", "political_status": "群众", "health": "健康",
            "phone": "13900000000", "degree": "学士", "school": "浙江大学", "major": "档案学",
            "graduation_date": "2010-07-01", "work_start_date": "2010-08-01", "unit_entry_date": "2012-01-01",
            "entry_mode": "考录", "post_type": "管理", "title": "馆员"}
    response = _patch(api("clerk2"), people[0].code, fill)
    assert response.status_code == 200, response.json
    assert response.json["completeness"] == round(100 * 17 / 18) and response.json["missing"] == ["照片"]
    db.session.expire_all()
    average = records.unit_completeness(unit)
    assert average == round((round(100 * 17 / 18) + 9 * base) / 10, 1)  # (94 + 9×17) / 10 = 24.7
    district = records.district_completeness()
    assert [r[2] for r in district] == sorted(r[2] for r in district)  # lowest first
    row = next(r for r in district if r[0].code == CLERK2_UNIT)
    assert row[1:] == (10, 24.7, 10)
    assert district[-1][0].code == CLERK2_UNIT  # the only unit above the demo's base


def test_completeness_on_the_unit_page_and_the_district_list(app, api):
    with app.app_context():
        clerk2_unit, clerk1_unit = unit_of(CLERK2_UNIT).name, unit_of().name
        code = people_of(CLERK2_UNIT)[0].code
    assert _patch(api("clerk2"), code, {"phone": "13900000000", "title": "馆员"}).status_code == 200
    listing = login(app.test_client(), "reviewer1").get("/records/completeness").get_data(as_text=True)
    # 档案馆: one person at 5/18 = 28 %, nine at 17 % → 18.1 %, after every 17.0 % unit
    assert "18.1%" in listing and listing.index(clerk1_unit) < listing.index(clerk2_unit)
    unit_page = login(app.test_client(), "clerk1").get(f"/units/{CLERK1_UNIT}").get_data(as_text=True)
    assert 'id="unit-completeness">17.0%' in unit_page
    assert login(app.test_client(), "clerk1").get("/records/completeness").status_code == 403
