"""Importing an existing roster (花名册导入): export → edit → import, every kind of bad row with
its exact (row, column, message), all-or-nothing against valid rows only, the CLI, the web
upload → preview → worker import, access, and 20,000 rows."""
import io
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.extensions import db
from bianzhi.ledger import idnumber
from bianzhi.ledger.history import figures_as_of
from bianzhi.ledger.models import ChronicleEntry, Person
from bianzhi.ledger.operations import figures
from bianzhi.reports import roster_import
from bianzhi.reports.models import RosterImport
from bianzhi.reports.operations import ROSTER_HEADER
from bianzhi.worker import Worker
from tests.conftest import csrf_token, login
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT
from tests.fixtures.people import people_of, unit_of

CDC = "绍兴市柯桥区疾病预防控制中心"  # CLERK1_UNIT: 事业编制 40 approved, 33 on roll
ARCHIVE = "绍兴市柯桥区档案馆"  # CLERK2_UNIT: 事业编制 12 approved, 10 on roll
MEDIA_UNIT = "12330621B05000000X"  # 区融媒体中心: 事业编制 30 approved, 31 on roll
NEW_ID = idnumber.make("330621", date(1990, 5, 17), 123)  # a man (sequence 123: odd)


def row(**fields):
    values = {"单位代码": CLERK1_UNIT, "姓名": "新同志", "身份证号": NEW_ID, "编制类型": "事业编制",
              "入编时间": "2015-08-01", "人员状态": "在编"}
    values.update(fields)
    return [values.get(h, "") for h in ROSTER_HEADER]


def book(rows, header=ROSTER_HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def on_roll(code=None):
    query = select(func.count()).select_from(Person).where(Person.status == "on_roll")
    if code:
        query = query.where(Person.unit_id == unit_of(code).id)
    return db.session.scalar(query)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- export → edit → import ---------------------------------------------------------------------

def test_export_edit_import_round_trip(app, runner, tmp_path):
    path = tmp_path / "cdc.xlsx"
    result = runner.invoke(args=["export-roster", "--unit", CLERK1_UNIT, str(path)])
    assert result.exit_code == 0, result.output
    assert "已导出 33 人" in result.output
    workbook = load_workbook(path)
    sheet = workbook.active
    assert [c.value for c in sheet[1]] == ROSTER_HEADER
    assert len(sheet[2][ROSTER_HEADER.index("身份证号")].value) == 18 and "*" not in sheet[2][6].value  # CLI: full IDs
    woman = idnumber.make("330602", date(1988, 12, 3), 224)
    sheet.append(row(姓名="沈一鸣", 人员编码="OLD-0001", 性别="男", 出生日期="1990-05-17", 内设机构="办公室",
                     中层职务="副职", 职务="科员", 学历="大学本科", 民族="汉族", 政治面貌="中共党员", 单位=CDC))
    sheet.append(row(姓名="王晓雨", 身份证号=woman, 入编时间=datetime(2012, 7, 1), 单位="", 单位代码=CLERK1_UNIT))
    workbook.save(path)
    with app.app_context():
        before_figures, before = figures(unit_of()), clock.now()
    time.sleep(0.01)

    result = runner.invoke(args=["import-roster", str(path)])
    assert result.exit_code == 0, result.output
    assert "共 35 行：已导入 2 人，已在册跳过 33 行，未通过校验 0 行" in result.output
    with app.app_context():
        unit = unit_of()
        assert on_roll(CLERK1_UNIT) == 35
        old = db.session.scalar(select(Person).where(Person.code == "OLD-0001"))
        assert (old.name, old.sex, old.birth_date, old.entry_date, old.category) == (
            "沈一鸣", "男", date(1990, 5, 17), date(2015, 8, 1), "事业编制")
        assert (old.department.name, old.midlevel_post, old.post, old.education) == ("办公室", "副职", "科员", "大学本科")
        assert old.details == {"ethnicity": "汉族", "political": "中共党员"} and old.unit_id == old.work_unit_id == unit.id
        new = db.session.scalar(select(Person).where(Person.id_number == woman))
        assert new.code.startswith("BZ") and len(new.code) == 12 and new.sex == "女"
        assert new.entry_date == date(2012, 7, 1) and new.department_id is None
        entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.action == "import")
                                     .order_by(ChronicleEntry.entity_id)).all()
        assert [(e.entity, e.entity_id, e.unit_id, e.delta) for e in entries] == [
            ("person", old.id, unit.id, {"category": "事业编制", "on_roll": 1}),
            ("person", new.id, unit.id, {"category": "事业编制", "on_roll": 1})]
        assert entries[0].after == {"name": "沈一鸣", "code": "OLD-0001", "category": "事业编制",
                                    "entry_date": "2015-08-01"}
        # the ledger on a past date is rebuilt from the deltas: before the import, 33 on roll
        assert figures_as_of(unit, before) == before_figures
        assert [(f["on_roll"], f["vacancy"]) for f in figures(unit)] == [(35, 5)]
        assert figures_as_of(unit, clock.now()) == figures(unit)
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action.in_(("roster.import", "roster.export")))
                                   .order_by(AuditEntry.id)).all()
        assert [(a.action, a.detail.get("rows"), a.detail.get("imported")) for a in audit] == [
            ("roster.export", 33, None), ("roster.import", 35, 2)]

        new_code = new.code

    # the same file again: rows with a 人员编码 are 已在册; the row without one is a second
    # registration of a person on roll, refused (a duplicate person), and nothing is imported
    result = runner.invoke(args=["import-roster", str(path)])
    assert result.exit_code == 1
    assert f"第 36 行「身份证号」：此人已在{CDC}在编（编码 {new_code}）" in result.output
    assert "共 35 行，1 行未通过校验，未导入任何人员" in result.output


# -- every kind of bad row ----------------------------------------------------------------------

def bad_file(ctx_people):
    archive_person, cdc_person = ctx_people
    return book([
        row(),  # 2: good
        row(身份证号=NEW_ID[:-1] + ("0" if NEW_ID[-1] != "0" else "1")),  # 3: checksum
        row(单位代码="12330621Z99000000X", 身份证号=idnumber.make("330621", date(1991, 1, 1), 111)),  # 4
        row(姓名="重复者"),  # 5: the ID number of row 2 again
        row(身份证号=archive_person.id_number, 入编时间="2025-06-01"),  # 6: on roll elsewhere
        row(身份证号=idnumber.make("330621", date(1992, 2, 2), 113), 入编时间="2020-02-30"),  # 7
        row(身份证号=idnumber.make("330621", date(1993, 3, 3), 115), 性别="女", 出生日期="1993-03-04"),  # 8
        row(身份证号=idnumber.make("330621", date(1994, 4, 4), 117), 编制类型="聘用编制"),  # 9
        row(身份证号=idnumber.make("330621", date(1985, 5, 5), 119), 人员状态="出编"),  # 10
        row(身份证号=idnumber.make("330621", date(1986, 6, 6), 121), 单位=ARCHIVE),  # 11
        row(身份证号=idnumber.make("330621", date(1987, 7, 7), 125), 内设机构="宣传科"),  # 12
        row(身份证号=int(idnumber.make("330621", date(1988, 8, 8), 127)[:17] + "1")),  # 13: typed as a number
        row(人员编码=cdc_person.code, 身份证号=idnumber.make("330621", date(1989, 9, 9), 129)),  # 14
        row(人员编码=cdc_person.code, 身份证号=cdc_person.id_number, 姓名=cdc_person.name),  # 15: 已在册
        row(身份证号=idnumber.make("330621", date(1980, 10, 10), 131), 编制类型="行政编制"),  # 16
        row(身份证号=idnumber.make("330621", date(1981, 11, 11), 133), 入编时间="2099-01-01"),  # 17
        row(身份证号=idnumber.make("330621", date(2000, 1, 1), 135), 入编时间="2017-12-31"),  # 18: aged 17
        [None] * len(ROSTER_HEADER),  # 19: blank, passed over
        row(身份证号=idnumber.make("330621", date(1982, 12, 12), 137), 姓名="", 入编时间="去年",
            人员编码="旧编码1"),  # 20
    ])


def expected_findings(archive_person, cdc_person):
    return [
        (3, "身份证号", "身份证号校验位不正确"),
        (4, "单位代码", "没有单位代码为 12330621Z99000000X 的单位"),
        (5, "身份证号", "与第 2 行的身份证号重复"),
        (6, "身份证号", f"此人已在{ARCHIVE}在编（编码 {archive_person.code}）"),
        (7, "入编时间", "日期「2020-02-30」无效，应为 YYYY-MM-DD"),
        (8, "性别", "性别「女」与身份证号（男）不符"),
        (8, "出生日期", "出生日期 1993-03-04 与身份证号中的 1993-03-03 不符"),
        (9, "编制类型", "编制类型应为行政编制、事业编制、工勤编制、政法专项编制之一"),
        (10, "人员状态", "只能导入在编人员（人员状态应为「在编」；出编人员经出编业务办理）"),
        (11, "单位", f"单位名称「{ARCHIVE}」与单位代码 {CLERK1_UNIT} 的单位「{CDC}」不符"),
        (12, "内设机构", f"{CDC}没有内设机构「宣传科」"),
        (13, "身份证号", "身份证号须以文本格式填写（数字格式会丢失末位）"),
        (14, "人员编码", f"人员编码 {cdc_person.code} 已是「{cdc_person.name}」的编码（身份证号不同）"),
        (16, "编制类型", f"{CDC}没有核定行政编制"),
        (17, "入编时间", "入编时间晚于今天"),
        (18, "入编时间", "入编时未满18周岁"),
        (20, "人员编码", "人员编码只能由字母、数字、- 和 _ 组成，最长 24 位"),
        (20, "姓名", "姓名不能为空"),
        (20, "入编时间", "日期「去年」无效，应为 YYYY-MM-DD"),
    ]


@dataclass(frozen=True)
class Someone:
    code: str
    id_number: str
    name: str


@pytest.fixture
def two_people(app):
    """One person on the archive's roll and one on the CDC's (plain values: no transaction kept open)."""
    with app.app_context():
        people = [Someone(p.code, p.id_number, p.name) for p in (people_of(CLERK2_UNIT)[0], people_of(CLERK1_UNIT)[0])]
        db.session.remove()
    return people


def test_every_kind_of_bad_row_is_named_by_row_and_column(ctx, two_people):
    outcome = roster_import.walk(bad_file(two_people))
    assert outcome.findings == expected_findings(*two_people)
    assert (outcome.total, outcome.refused, outcome.valid, outcome.skipped) == (18, 16, 1, [(15, two_people[1].code)])
    assert outcome.refused_rows == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20]


def test_all_or_nothing_unless_valid_rows_only(ctx, two_people):
    content, before = bad_file(two_people), on_roll()
    with pytest.raises(roster_import.RosterRefused) as refused:
        roster_import.import_roster(None, content)
    assert refused.value.message == "有 16 行未通过校验，未导入任何人员"
    db.session.rollback()
    assert on_roll() == before and db.session.scalar(select(func.count()).select_from(ChronicleEntry)
                                                     .where(ChronicleEntry.action == "import")) == 0
    outcome = roster_import.import_roster(None, content, valid_only=True)
    db.session.commit()
    assert outcome.valid == 1 and on_roll() == before + 1 and on_roll(CLERK1_UNIT) == 34
    assert db.session.scalar(select(Person.name).where(Person.id_number == NEW_ID)) == "新同志"


def test_a_header_that_differs_is_refused_naming_the_columns(ctx):
    header = [("身份证" if h == "身份证号" else h) for h in ROSTER_HEADER] + ["备注"]
    with pytest.raises(roster_import.ValidationFailed) as refused:
        roster_import.walk(book([], header))
    assert "缺少列：「身份证号」；多出列：「身份证」、「备注」" in refused.value.message
    swapped = list(ROSTER_HEADER)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    with pytest.raises(roster_import.ValidationFailed) as refused:
        roster_import.walk(book([], swapped))
    assert "第 3 列应为「人员编码」，文件中为「姓名」" in refused.value.message


def test_over_establishment_is_a_warning_not_a_refusal(ctx):
    rows = [row(单位代码=MEDIA_UNIT, 身份证号=idnumber.make("330621", date(1990, 1, 1) + timedelta(days=i), 101))
            for i in range(2)]
    outcome = roster_import.walk(book(rows))
    assert outcome.refused == 0 and outcome.valid == 2
    assert roster_import.warnings(outcome) == [
        "绍兴市柯桥区融媒体中心事业编制：核定 30 名，现在编 31 名，本次导入 2 名，导入后超编 3 名"]


# -- the command line ---------------------------------------------------------------------------

def test_cli_exits_1_naming_each_refused_row(app, runner, tmp_path, two_people):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(bad_file(two_people))
    with app.app_context():
        before = on_roll()
    result = runner.invoke(args=["import-roster", str(path)])
    assert result.exit_code == 1
    assert "第 3 行「身份证号」：身份证号校验位不正确" in result.output
    assert f"第 6 行「身份证号」：此人已在{ARCHIVE}在编" in result.output
    assert "共 18 行，16 行未通过校验，未导入任何人员" in result.output
    result = runner.invoke(args=["import-roster", "--dry-run", str(path)])
    assert result.exit_code == 1 and "可导入 1 人" in result.output
    with app.app_context():
        assert on_roll() == before
    result = runner.invoke(args=["import-roster", "--valid-only", str(path)])
    assert result.exit_code == 1 and "已导入 1 人，已在册跳过 1 行，未通过校验 16 行" in result.output
    with app.app_context():
        assert on_roll() == before + 1
    path.write_bytes(b"%PDF-1.4 not a workbook")
    result = runner.invoke(args=["import-roster", str(path)])
    assert result.exit_code == 1 and "文件不是有效的 Excel 文件（.xlsx）" in result.output


# -- the web: upload → preview → import by the worker ------------------------------------------

def _upload(client, content, name="花名册.xlsx"):
    token = csrf_token(client, "/roster/import")
    return client.post("/roster/import", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_upload_preview_then_import_valid_rows_with_progress(app, client, two_people):
    login(client, "reviewer1")
    response = _upload(client, bad_file(two_people))
    assert response.status_code == 302
    page_url = response.headers["Location"]
    html = client.get(page_url).get_data(as_text=True)
    assert "共 18 行：有效 1 行，已在册跳过 1 行，未通过校验 <strong>16</strong> 行" in html
    assert "<td>3</td><td>身份证号</td><td>身份证号校验位不正确</td>" in html
    assert 'id="import-valid"' in html and 'id="import-all"' not in html
    number = int(page_url.rstrip("/").rsplit("/", 1)[1])
    token = csrf_token(client, page_url)
    refused = client.post(f"/roster/imports/{number}/start", data={"csrf_token": token, "mode": "all"})
    assert refused.status_code == 422 and "仅导入有效行" in refused.get_data(as_text=True)
    assert client.post(f"/roster/imports/{number}/start", data={"csrf_token": token, "mode": "valid"}).status_code == 302
    status = client.get(f"/roster/imports/{number}/status.json").json
    assert (status["status"], status["done"], status["total"]) == ("queued", 0, 18)
    assert 'data-status-url="/roster/imports/%d/status.json"' % number in client.get(page_url).get_data(as_text=True)
    with app.app_context():
        before = on_roll()
    assert Worker(app).run_once() == 1
    status = client.get(f"/roster/imports/{number}/status.json").json
    assert (status["status"], status["done"], status["imported"], status["refused"]) == ("done", 18, 1, 16)
    assert "已导入 1 人" in client.get(page_url).get_data(as_text=True)
    with app.app_context():
        assert on_roll() == before + 1
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("roster.import%"))
                                     .order_by(AuditEntry.id)).all()
        assert actions == ["roster.import.preview", "roster.import"]
    again = client.post(f"/roster/imports/{number}/start", data={"csrf_token": token, "mode": "valid"})
    assert again.status_code == 409


def test_worker_rechecks_and_refuses_what_changed_since_the_preview(app, client):
    login(client, "admin")
    response = _upload(client, book([row()]))
    number = int(response.headers["Location"].rsplit("/", 1)[1])
    assert 'id="import-all"' in client.get(response.headers["Location"]).get_data(as_text=True)
    token = csrf_token(client, "/roster/import")
    assert client.post(f"/roster/imports/{number}/start", data={"csrf_token": token, "mode": "all"}).status_code == 302
    with app.app_context():  # meanwhile the same person is registered by another way
        roster_import.import_roster(None, book([row(人员编码="EARLY1")]))
        db.session.commit()
        before = on_roll()
    Worker(app).run_once()
    with app.app_context():
        job = db.session.get(RosterImport, number)
        assert (job.status, job.imported, job.refused) == ("failed", 0, 1)
        assert job.message == "有 1 行未通过校验，未导入任何人员"
        assert job.report["findings"][0][:2] == [2, "身份证号"] and "EARLY1" in job.report["findings"][0][2]
        assert on_roll() == before
    html = client.get(f"/roster/imports/{number}").get_data(as_text=True)
    assert "未导入：有 1 行未通过校验，未导入任何人员" in html and "EARLY1" in html


def test_an_import_that_keeps_failing_says_so_after_the_last_attempt(app, client, monkeypatch):
    from bianzhi.worker import MAX_ATTEMPTS, backoff

    login(client, "admin")
    response = _upload(client, book([row()]))
    number = int(response.headers["Location"].rsplit("/", 1)[1])
    token = csrf_token(client, "/roster/import")
    assert client.post(f"/roster/imports/{number}/start", data={"csrf_token": token, "mode": "all"}).status_code == 302

    def broken(*args, **kwargs):
        raise RuntimeError("磁盘已满")
    monkeypatch.setattr(roster_import, "import_roster", broken)
    with app.app_context():
        before = on_roll()
    now = clock.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert Worker(app, clock=lambda: now).run_once() == 1
        status = client.get(f"/roster/imports/{number}/status.json").json["status"]
        assert status == ("failed" if attempt == MAX_ATTEMPTS else "running")
        now += backoff(attempt) + timedelta(seconds=1)
    html = client.get(f"/roster/imports/{number}").get_data(as_text=True)
    assert "导入多次出错后已停止，未导入任何人员" in html and "磁盘已满" in html
    with app.app_context():
        assert on_roll() == before


def test_uploads_are_checked_by_type_and_content(client):
    login(client, "reviewer1")
    response = _upload(client, b"%PDF-1.4 ...", "花名册.xlsx")
    assert response.status_code == 422 and "文件不是有效的 Excel 文件（.xlsx）" in response.get_data(as_text=True)
    response = _upload(client, book([row()]), "花名册.csv")
    assert response.status_code == 422 and "请上传 Excel 文件（.xlsx）" in response.get_data(as_text=True)


def test_unit_clerks_and_leaders_may_not_import(client):
    login(client, "clerk1")
    assert client.get("/roster/import").status_code == 403
    token = csrf_token(client, "/login")
    response = client.post("/roster/import", data={"csrf_token": token, "file": (io.BytesIO(book([row()])), "a.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 403
    login(client, "leader1")
    assert client.get("/roster/import").status_code == 403


# -- ID numbers masked in exports unless the role may see them ---------------------------------

def _ids(response):
    assert response.status_code == 200
    body = response.get_data()
    response.close()
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    column = ROSTER_HEADER.index("身份证号")
    try:
        return [r[column] for r in list(workbook.active.iter_rows(values_only=True))[1:]]
    finally:
        workbook.close()


def test_roster_exports_mask_id_numbers_for_readers(app, client):
    with app.app_context():
        full = people_of(CLERK1_UNIT)[0].id_number
    login(client, "leader1")
    ids = _ids(client.get("/roster.xlsx"))
    assert full[:6] + "********" + full[-4:] in ids and full not in ids
    assert all("*" in i for i in ids)
    login(client, "reviewer1")
    assert full in _ids(client.get("/roster.xlsx"))
    login(client, "clerk1")
    assert full in _ids(client.get(f"/units/{CLERK1_UNIT}/roster.xlsx"))


def test_a_clerk_exports_the_units_below_theirs_with_id_numbers_masked(app, client):
    with app.app_context():
        archive = unit_of(CLERK2_UNIT)
        archive.parent_id = unit_of(CLERK1_UNIT).id
        db.session.commit()
        full = people_of(CLERK2_UNIT)[0].id_number
    login(client, "clerk1")
    ids = _ids(client.get(f"/units/{CLERK2_UNIT}/roster.xlsx"))
    assert len(ids) == 10 and full not in ids and full[:6] + "********" + full[-4:] in ids
    login(client, "clerk2")  # the archive's clerk: their own unit in full, not the unit above
    assert full in _ids(client.get(f"/units/{CLERK2_UNIT}/roster.xlsx"))
    response = client.get(f"/units/{CLERK1_UNIT}/roster.xlsx")
    assert response.status_code == 403 and "只能导出本单位及下属单位的人员花名册" in response.get_data(as_text=True)


def test_control_characters_are_dropped_from_the_export(app, client):
    with app.app_context():
        person = people_of(CLERK1_UNIT)[0]
        person.name, code = "张\x01三\x0b", person.code
        db.session.commit()
    login(client, "clerk1")
    response = client.get(f"/units/{CLERK1_UNIT}/roster.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    response.close()
    assert [r[3] for r in sheet.iter_rows(values_only=True) if r[2] == code] == ["张三"]


# -- 20,000 rows --------------------------------------------------------------------------------

def test_20000_rows_import_in_one_go(ctx):
    units = [("12330621B0%d000000X" % i) for i in range(1, 7)]  # the six 事业单位
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(ROSTER_HEADER)
    for i in range(20000):
        birth = date(1970, 1, 1) + timedelta(days=i // 50)
        sheet.append(row(单位代码=units[i % 6], 姓名=f"导入{i}", 身份证号=idnumber.make("330621", birth, 100 + i % 50 * 2),
                         入编时间="2010-09-01", 民族="汉族"))
    out = io.BytesIO()
    workbook.save(out)
    content = out.getvalue()
    cdc, before, moment = unit_of(CLERK1_UNIT), on_roll(), clock.now()
    cdc_before = figures(cdc)
    time.sleep(0.01)
    started = time.perf_counter()
    seen, inserts = [], []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement.split("(")[0].split()[-1])
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        outcome = roster_import.import_roster(None, content, progress=seen.append)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    elapsed = time.perf_counter() - started
    assert (outcome.total, outcome.valid, outcome.refused) == (20000, 20000, 0)
    assert seen[:2] == [1000, 2000] and seen[-1] == 20000
    assert on_roll() == before + 20000
    assert on_roll(CLERK1_UNIT) == 33 + 3334  # rows 0, 6, 12 … go to the first unit
    assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)
                             .where(ChronicleEntry.action == "import")) == 20000
    assert figures_as_of(cdc, moment) == cdc_before
    assert figures_as_of(cdc, clock.now()) == figures(cdc)
    # bulk: 1,000 rows a statement for people and for their chronicle (no per-row flush), one audit
    assert Counter(inserts) == {"people": 20, "chronicle": 20, "audit_log": 1}
    assert elapsed < 120, f"20,000 rows took {elapsed:.1f} s"  # 22 s measured at load average 8 on 2 cores
    print(f"\n20,000 rows imported in {elapsed:.1f} s")
