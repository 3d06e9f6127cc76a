"""编制调整 (bpmn/establishment_adjust.bpmn): unit → 业务科室初审 → 分管领导 → 主任办公会; on
approval the meeting's decision becomes the document and the establishment changes in the same
transaction as the workflow step. Demo: B01 事业编制 40 approved / 33 on roll, B02 12 / 10."""
from datetime import date

from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.accounts.models import User
from bianzhi.documents.models import Document, DocumentLink
from bianzhi.extensions import db
from bianzhi.ledger import establishment
from bianzhi.ledger import units as lifecycle
from bianzhi.ledger.models import ChronicleEntry, Establishment, Unit
from bianzhi.ledger.operations import figure
from bianzhi.notices.models import Notice
from tests.conftest import csrf_token
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT, decide, only_task
from tests.fixtures.pages import case_id_from, post_task, task_links, text_of, user_client

B06_UNIT = "12330621B06000000X"
MINUTES = "主任办公会纪要〔2026〕12号"


def apply(clerk, **data):
    body = {"unit": CLERK1_UNIT, "category": "事业编制", "change": 3,
            "reason": "疾控中心承担全区传染病监测新职责，检验岗位不足"}
    body.update(data)
    return clerk.post("/api/v1/cases", json={"process": "establishment_adjust", "data": body})


def to_meeting(api, **data):
    response = apply(api("clerk1"), **data)
    assert response.status_code == 201, response.json
    case = decide(api("reviewer1"), only_task(response.json)).json
    case = decide(api("leader1"), only_task(case)).json
    assert [t["name"] for t in case["tasks"]] == ["主任办公会研究决定"]
    return case


def meeting(api, case, decision="approve"):
    return api("leader1").post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {
        "decision": decision, "meeting_date": clock.today().isoformat(), "minutes_no": MINUTES,
        "opinion": "会议研究同意" if decision == "approve" else "职责未调整，暂不核增"}})


def approved(code, category="事业编制"):
    db.session.expire_all()
    return figure(db.session.scalar(select(Unit).where(Unit.code == code)), category)["approved"]


def test_approval_applies_the_change_with_the_decision_as_document(app, api):
    case = to_meeting(api)
    with app.app_context():
        assert approved(CLERK1_UNIT) == 40  # nothing changes before the meeting decides
    response = meeting(api, case)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "approved" and response.json["tasks"] == []
    with app.app_context():
        assert approved(CLERK1_UNIT) == 43
        [entry] = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.case_id == case["id"],
                                                                  ChronicleEntry.entity == "establishment")).all()
        assert (entry.action, entry.delta, entry.before["approved"], entry.after["approved"]) == \
            ("adjust", {"category": "事业编制", "approved": 3}, 40, 43)
        assert entry.after["document"] == MINUTES
        document = db.session.scalar(select(Document).where(Document.number == MINUTES))
        assert document.issued_on == clock.today()
        assert db.session.scalar(select(DocumentLink).where(DocumentLink.document_id == document.id,
                                                            DocumentLink.case_id == case["id"],
                                                            DocumentLink.chronicle_id == entry.id)) is not None
        notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
        assert notice.title == "编制调整核准通知"
        assert "核定数由 40 名调整为 43 名" in notice.html and MINUTES in notice.html
        assert "编制调整申请报告（经主管部门审核盖章）" in notice.html


def test_transfer_from_another_unit_keeps_the_total(app, api):
    with app.app_context():
        total = db.session.scalar(select(func.sum(Establishment.approved)))
    case = to_meeting(api, change=2, transfer_from=CLERK2_UNIT)
    assert "由 12330621B02000000X 划入" in case["title"]
    assert meeting(api, case).status_code == 200
    with app.app_context():
        assert (approved(CLERK1_UNIT), approved(CLERK2_UNIT)) == (42, 10)
        assert db.session.scalar(select(func.sum(Establishment.approved))) == total
        deltas = db.session.scalars(select(ChronicleEntry.delta).where(ChronicleEntry.case_id == case["id"],
                                                                       ChronicleEntry.action == "transfer")
                                    .order_by(ChronicleEntry.id)).all()
        assert deltas == [{"category": "事业编制", "approved": -2}, {"category": "事业编制", "approved": 2}]


def test_applications_the_figures_cannot_carry_are_refused(api):
    clerk = api("clerk1")
    below = apply(clerk, change=-8)
    assert below.status_code == 422
    assert below.json["error"]["message"] == ("核减 8 名后事业编制核定 32 名，少于在编 33 名与预留 0 名之和；"
                                              "请先出编或释放预留，或少报核减数")
    short = apply(clerk, change=3, transfer_from=CLERK2_UNIT)
    assert short.json["error"]["message"] == "划出单位绍兴市柯桥区档案馆事业编制空编 2 名，不足划转 3 名"
    assert apply(clerk, change=0).json["error"]["fields"] == {"change": ["不能为 0"]}
    assert apply(clerk, unit=CLERK2_UNIT).status_code == 403  # only for one's own unit
    assert apply(clerk, transfer_from=CLERK1_UNIT).json["error"]["message"] == "划出单位不能是本单位"


def test_meeting_rejection_changes_nothing(app, api):
    case = to_meeting(api)
    response = meeting(api, case, "reject")
    assert response.status_code == 200 and response.json["state"] == "rejected"
    with app.app_context():
        assert approved(CLERK1_UNIT) == 40
        assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)
                                 .where(ChronicleEntry.case_id == case["id"])) == 0


def test_figures_moved_since_the_application_refuse_the_approval_whole(app, api):
    case = to_meeting(api, change=2, transfer_from=CLERK2_UNIT)
    with app.app_context():  # meanwhile the bureau moves one of B02's two vacant places elsewhere
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        units = {u.code: u for u in db.session.scalars(select(Unit))}
        establishment.transfer_establishment(reviewer, units[CLERK2_UNIT], units[B06_UNIT], "事业编制", 1,
                                         lifecycle.Approval("绍柯编〔2026〕40号", date(2026, 11, 2)))
        db.session.commit()
    response = meeting(api, case)
    assert response.status_code == 409, response.json
    assert "空编 1 名" in response.json["error"]["message"]
    after = api("leader1").get(f"/api/v1/cases/{case['id']}").json
    assert after["state"] == "running" and [t["name"] for t in after["tasks"]] == ["主任办公会研究决定"]
    with app.app_context():
        assert (approved(CLERK1_UNIT), approved(CLERK2_UNIT)) == (40, 11)
        assert db.session.scalar(select(func.count()).select_from(ChronicleEntry)
                                 .where(ChronicleEntry.case_id == case["id"])) == 0


def test_the_pages_carry_the_process_from_the_window_to_the_meeting(app):
    clerk = user_client(app, "clerk1")
    start_page = clerk.get("/window/start/establishment_adjust")
    assert start_page.status_code == 200 and "调整数（增加填正数，核减填负数）" in text_of(start_page)
    form = {"csrf_token": csrf_token(clerk, "/window/start/establishment_adjust"), "unit": CLERK1_UNIT,
            "category": "事业编制", "change": "-2", "transfer_from": "", "reason": "检验科职能划出，核减 2 名"}
    case_id = case_id_from(clerk.post("/window/start/establishment_adjust", data=form,
                                      content_type="multipart/form-data"))
    for username in ("reviewer1", "leader1"):
        client = user_client(app, username)
        [task] = task_links(client.get("/inbox"))
        assert post_task(client, task, {"decision": "approve", "opinion": "同意"}).status_code == 302
    leader = user_client(app, "leader1")
    [task] = task_links(leader.get("/inbox"))
    page = leader.get(f"/tasks/{task}")
    assert "主任办公会研究决定" in text_of(page) and "会议纪要编号" in text_of(page)
    done = post_task(leader, task, {"decision": "approve", "meeting_date": clock.today().isoformat(),
                                    "minutes_no": MINUTES, "opinion": ""})
    assert done.status_code == 302, text_of(done)[:300]
    with app.app_context():
        assert approved(CLERK1_UNIT) == 38
    case_page = text_of(clerk.get(f"/cases/{case_id}"))
    assert "已核准" in case_page and "编制调整（事业编制核减 2 名）" in case_page
    assert "依据文件" in case_page and MINUTES in case_page  # the meeting's minutes, linked from the case
