"""Data exchange (finance head counts, ledger export) and the auditors' log: scoped and audited."""
import json

from sqlalchemy import select

from bianzhi import clock
from bianzhi.audit.models import AuditEntry
from bianzhi.exports import csv_bytes, safe_cell
from bianzhi.extensions import db
from tests.conftest import login
from tests.fixtures.cases import CLERK1_UNIT, approve_through, decide, only_task, person, start


def test_finance_reads_head_counts_on_a_date_and_nothing_else(api, ctx):
    clerk, reviewer, leader, finance = api("clerk1"), api("reviewer1"), api("leader1"), api("finance1")
    before = clock.today().isoformat()
    case = approve_through(reviewer, leader, start(clerk, count=1))
    clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": [person(9)]}})
    decide(reviewer, only_task(clerk.get(f"/api/v1/cases/{case['id']}").json))
    today = finance.get("/api/v1/finance/headcounts").json
    cdc = next(u for u in today["units"] if u["code"] == CLERK1_UNIT)
    assert cdc["categories"] == [{"category": "事业编制", "approved": 40, "on_roll": 34}]
    assert len(today["units"]) == 11
    yesterday = finance.get("/api/v1/finance/headcounts?date=2025-12-31").json
    assert next(u for u in yesterday["units"] if u["code"] == CLERK1_UNIT)["categories"][0]["on_roll"] == 33
    assert finance.get(f"/api/v1/finance/headcounts?date={before}").status_code == 200
    assert finance.get("/api/v1/finance/headcounts?date=明天").status_code == 422
    assert finance.get("/api/v1/cases").status_code == 403  # the access matrix: not a case reader
    assert finance.get("/api/v1/tasks").status_code == 403
    assert finance.get(f"/api/v1/units/{CLERK1_UNIT}/establishment").status_code == 403
    assert finance.get("/api/v1/ledger/export").status_code == 403
    assert clerk.get("/api/v1/finance/headcounts").status_code == 403
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "finance.headcounts")).all()
    assert len(actions) == 3


def test_ledger_export_is_complete_json(api, ctx):
    admin = api("admin")
    response = admin.get("/api/v1/ledger/export")
    assert response.status_code == 200
    doc = json.loads(response.get_data(as_text=True))
    assert doc["format"] == "bianzhi-ledger/1"
    assert len(doc["units"]) == 11 and len(doc["people"]) == 341  # the whole demo roll
    cdc = next(u for u in doc["units"] if u["code"] == CLERK1_UNIT)
    assert cdc["establishment"] == [{"category": "事业编制", "approved": 40}]
    assert cdc["parent"] is not None and "业务一科" in cdc["departments"]
    assert {p["unit"] for p in doc["people"]} <= {u["code"] for u in doc["units"]}
    assert api("clerk1").get("/api/v1/ledger/export").status_code == 403
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ledger.export")) is not None


def test_auditor_searches_and_exports_the_log(app):
    auditor = login(app.test_client(), "auditor1")
    page = auditor.get("/audit?action=login").get_data(as_text=True)
    assert "审计日志" in page and "login" in page
    export = auditor.get("/audit/export.csv?username=auditor1")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    text = export.data.decode("utf-8")
    assert text.startswith("\ufeff编号") and "auditor1" in text
    clerk = login(app.test_client(), "clerk1")
    assert clerk.get("/audit").status_code == 403
    assert clerk.get("/audit/export.csv").status_code == 403


def test_exports_neutralise_formulas():
    assert [safe_cell(v) for v in ("=1+1", "+86 138", "-5", "@SUM(A1)", "张三", 42, None)] == [
        "'=1+1", "'+86 138", "'-5", "'@SUM(A1)", "张三", "42", ""]
    assert "'=HYPERLINK" in csv_bytes(["a"], [["=HYPERLINK(\"http://x\")"]]).decode("utf-8")
