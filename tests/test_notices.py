"""Notice PDFs: real CJK text, the case number and the materials, fixed at decision time,
rendered on first download (never inside the task completion) and kept."""
import io
import re

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


def _svg(html):
    return re.search(r'<svg[^>]*class="qr".*?</svg>', html, re.S).group(0)


def test_a_notice_carries_the_seal_area_and_a_qr_code_of_its_verification_link(api, ctx):
    import segno

    from tests.fixtures.inbox import at, beijing

    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    with at(beijing(2026, 3, 5, 0, 30)):  # 4 March in UTC: the date printed is Beijing's
        case = approve_through(reviewer, leader, start(clerk))
    notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
    seal = re.search(r'<div class="seal">.*?</div>\s*</div>', notice.html, re.S).group(0)
    assert "中共绍兴市柯桥区委机构编制委员会办公室" in seal and "（盖章）" in seal
    assert "2026年3月5日" in seal and "03月" not in notice.html
    # the QR code is the one segno makes of the link the notice prints, fixed into the stored HTML
    url = re.search(r"可在 (\S+) 核验", notice.html).group(1)
    assert url.endswith(f"/verify/{notice.verify_code}")
    qr = segno.make_qr(url, error="m")
    assert not qr.is_micro  # a phone reads a full QR code, not a Micro QR
    drawn = re.search(r' d="([^"]+)"', _svg(notice.html)).group(1)
    assert drawn == re.search(r' d="([^"]+)"', qr.svg_inline()).group(1)
    compact = "".join(pdf_text(clerk.get(clerk.get(f"/api/v1/cases/{case['id']}/notices").json[0]["url"]).data)[0]
                      .split())
    assert "中共绍兴市柯桥区委机构编制委员会办公室（盖章）2026年3月5日" in compact


def test_print_css_keeps_headings_with_their_rows_and_names_whole(app, ctx):
    """Rendered with more and more approval steps, the materials heading falls at every point of
    the page: it is never the last thing on a page, and a long name in a narrow column stays on one line."""
    from flask import render_template

    from bianzhi import clock
    from bianzhi.notices import render

    name = "阿卜杜热合曼·买买提依明"
    now = clock.now()
    split, heading_pages = [], set()
    for count in range(31, 38):  # without break-after: avoid, 34 and 35 steps leave it alone at a page's foot
        notice = {"title": "落编登记表", "case": {"number": "BZ-1", "title": "事项", "data": {}},
                  "unit": {"name": "单位", "code": "X"}, "decision": "同意",
                  "steps": [{"name": f"环节{i}", "by": name, "decision": "同意", "opinion": "", "at": now}
                            for i in range(count)],
                  "people": [], "temp_staff": [], "materials": ["第一项材料", "第二项材料"],
                  "verify_code": "ABCDEFGHJKLM", "verify_url": "http://x/verify/ABCDEFGHJKLM",
                  "verify_qr": "", "issued_at": now, "office": "办公室", "issued_on": "2026年3月5日"}
        with app.test_request_context():
            html = render_template("notices/registration.html", notice=notice)
        reader = PdfReader(io.BytesIO(render.render(html)))
        pages = [page.extract_text() for page in reader.pages]
        heading = [i for i, text in enumerate(pages) if "请携带以下纸质材料" in text]
        first = [i for i, text in enumerate(pages) if "第一项材料" in text]
        split.append(heading != first)
        heading_pages.update(heading)
        assert all(text.count(name) == text.count(name[:3]) for text in pages)  # never broken
    assert split == [False] * len(split) and heading_pages == {1, 2}  # it did cross a page boundary
