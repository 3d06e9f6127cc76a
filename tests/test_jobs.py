"""The worker owns the job commits: a handler (bianzhi.jobs) never commits; what it needs seen
before the end (an import's progress) goes through the worker's checkpoint, and its last
changes land in the same commit as the job's done mark."""
import io
import sys
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from bianzhi.accounts.models import User
from bianzhi.extensions import db
from bianzhi.inbox.models import Job
from bianzhi.ledger import idnumber
from bianzhi.notices.models import Notice
from bianzhi.reports import roster_import
from bianzhi.reports.models import RosterImport
from bianzhi.reports.operations import ROSTER_HEADER
from bianzhi.worker import Worker
from tests.fixtures.cases import CLERK1_UNIT, approve_through, start


@pytest.fixture
def commits(monkeypatch):
    """The bianzhi module that asked for each commit of the session."""
    callers, real = [], Session.commit

    def commit(self):
        frame = sys._getframe(1)
        while frame is not None and not frame.f_globals.get("__name__", "").startswith("bianzhi"):
            frame = frame.f_back
        callers.append(frame.f_globals["__name__"] if frame is not None else None)
        return real(self)

    monkeypatch.setattr(Session, "commit", commit)
    return callers


def _roster(n):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ROSTER_HEADER)
    for i in range(n):
        values = {"单位代码": CLERK1_UNIT, "姓名": f"新同志{i}", "身份证号": idnumber.make("330621", date(1990, 5, 17), 101 + i),
                  "编制类型": "事业编制", "入编时间": "2015-08-01", "人员状态": "在编"}
        sheet.append([values.get(h, "") for h in ROSTER_HEADER])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_roster_import_commits_only_through_the_worker(app, commits):
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        job = roster_import.queue(admin, roster_import.preview(admin, "roster.xlsx", _roster(3)), False)
        db.session.commit()
        number = job.id
    commits.clear()
    assert Worker(app).run_once() == 1
    assert commits and set(commits) == {"bianzhi.worker"}
    # claim (lease) · 校验 started · 校验 progress · the import with its done mark
    assert len(commits) == 4
    with app.app_context():
        done = db.session.get(RosterImport, number)
        assert (done.status, done.imported, done.message) == ("done", 3, "已导入 3 人")
        assert db.session.scalar(select(Job.status).where(Job.key == f"roster_import:{number}")) == "done"


def test_a_notice_pdf_job_commits_only_through_the_worker(app, api, commits):
    case = approve_through(api("reviewer1"), api("leader1"), start(api("clerk1")))
    commits.clear()
    assert Worker(app).run_once() >= 1
    assert commits and set(commits) == {"bianzhi.worker"}
    with app.app_context():
        notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
        assert notice.pdf.startswith(b"%PDF")
        assert db.session.scalar(select(Job.status).where(Job.key == f"notice_pdf:{notice.id}")) == "done"
