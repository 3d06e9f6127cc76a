"""Notice PDFs: real CJK text, the case number and the materials, fixed at decision time,
rendered on first download (never inside the task completion) and kept."""
import io

from pypdf import PdfReader
from sqlalchemy import select

from bianzhi.extensions import db
from bianzhi.ledger.models import Unit
from bianzhi.notices.models import Notice
from tests.fixtures.cases import CLERK1_UNIT, approve_through, decide, only_task, person, start


def pdf_text(data):
    reader = PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages), reader


def test_approval_notice_pdf(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk))
    notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
    assert notice.pdf is None  # not rendered inside the leader's request
    listed = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [set(n) >= {"id", "title", "issued_at", "url"} for n in listed] == [True]
    response = clerk.get(listed[0]["url"])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text, reader = pdf_text(response.data)
    compact = "".join(text.split())
    assert case["number"] in compact
    assert "空编使用审核表" in compact
    assert "编制使用申请表（经主管部门审核盖章）" in compact and "本单位《机构编制管理证》" in compact
    assert "业务科室初审" in compact and "周建华" in compact and "傅国强" in compact
    assert notice.verify_code in compact
    fonts = {str(f) for page in reader.pages for f in page["/Resources"]["/Font"].values()
             for f in [f.get_object()["/BaseFont"]]}
    assert any("CJK" in f for f in fonts), fonts
    db.session.expire_all()
    stored = db.session.get(Notice, notice.id)
    assert stored.pdf == response.data and stored.rendered_at is not None
    assert clerk.get(listed[0]["url"]).data == response.data


def test_registration_notice_lists_people(api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk, count=1))
    clerk.post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {"people": [person(7, name="林晓雯")]}})
    decide(reviewer, only_task(clerk.get(f"/api/v1/cases/{case['id']}").json), "approve", "同意落编")
    notices = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert [n["title"] for n in notices] == ["空编使用审核表", "落编登记表"]
    text, _ = pdf_text(clerk.get(notices[1]["url"]).data)
    compact = "".join(text.split())
    assert "林晓雯" in compact and case["number"] in compact and "行政介绍信" in compact


def test_issued_notice_does_not_change_with_the_case(api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk))
    unit = db.session.scalar(select(Unit).where(Unit.code == CLERK1_UNIT))
    unit.name = "改名后的单位"
    db.session.commit()
    url = clerk.get(f"/api/v1/cases/{case['id']}/notices").json[0]["url"]
    compact = "".join(pdf_text(clerk.get(url).data)[0].split())
    assert "疾病预防控制中心" in compact and "改名后的单位" not in compact


def test_verification_code_opens_the_case_summary(client, api, ctx):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk))
    code = clerk.get(f"/api/v1/cases/{case['id']}/notices").json[0]["verify_code"]
    page = client.get(f"/verify/{code.lower()}").get_data(as_text=True)
    assert "核验通过" in page and case["number"] in page
    assert "打开案件" not in page  # not logged in: no link into the case
    assert "没有这个核验码" in client.get("/verify/NOPE").get_data(as_text=True)


def test_the_worker_renders_the_pdf_after_the_decision_so_downloads_only_send_it(app, api, ctx):
    from bianzhi.inbox.models import Job
    from bianzhi.worker import Worker

    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = approve_through(reviewer, leader, start(clerk))
    notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
    job = db.session.scalar(select(Job).where(Job.key == f"notice_pdf:{notice.id}"))
    assert (job.kind, job.status, job.payload) == ("notice_pdf", "pending", {"notice_id": notice.id})
    db.session.rollback()
    Worker(app).run_once()
    db.session.expire_all()
    stored = db.session.get(Notice, notice.id)
    assert stored.pdf.startswith(b"%PDF") and stored.rendered_at is not None
    assert db.session.get(Job, job.id).status == "done"
    rendered_at = stored.rendered_at
    listed = clerk.get(f"/api/v1/cases/{case['id']}/notices").json
    assert clerk.get(listed[0]["url"]).data == stored.pdf
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).rendered_at == rendered_at  # sent, not rendered again
