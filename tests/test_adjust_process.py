"""编制调整 (bpmn/establishment_adjust.bpmn): unit → 业务科室初审 → 分管领导 → 主任办公会; on
approval the meeting's decision becomes the document and the establishment changes in the same
transaction as the workflow step. 行政编制, or a change above the threshold of
bpmn/establishment_adjust_upper.dmn (5), goes on to the office above (上级编办审核 → 上级编办审批),
whose approval applies it. Demo: B01 事业编制 40 approved / 33 on roll and no 行政编制, B02 12 / 10;
B01 is 归口 to 机关编制科 (reviewer1, leader1); 柯桥 reports to 绍兴市委编办 (city_reviewer1,
city_leader1)."""
import re
from datetime import date

from sqlalchemy import func, select

from bianzhi import clock
from bianzhi.accounts.models import User
from bianzhi.cases.models import Case
from bianzhi.documents.models import Document, DocumentLink
from bianzhi.extensions import db
from bianzhi.ledger import establishment
from bianzhi.ledger import units as lifecycle
from bianzhi.ledger.models import ChronicleEntry, Establishment, Unit
from bianzhi.ledger.operations import figure
from bianzhi.notices.models import Notice
from bianzhi.organisation.models import Office
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
    found = figure(db.session.scalar(select(Unit).where(Unit.code == code)), category)
    return found["approved"] if found is not None else 0  # no line of that category yet


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


# --- 上报审批: the office above ---------------------------------------------------------------

REPLY = "绍市编〔2026〕8号"
ADMINISTRATIVE = {"category": "行政编制", "change": 2, "reason": "疾控中心承担卫生监督执法职责，需核定行政编制"}


def to_city(api, **data):
    """clerk1 applies; reviewer1, leader1 and the meeting approve: the case waits on the city."""
    case = to_meeting(api, **{**ADMINISTRATIVE, **data})
    response = meeting(api, case)
    assert response.status_code == 200, response.json
    case = response.json
    assert case["state"] == "running" and [t["name"] for t in case["tasks"]] == ["上级编办审核"]
    return case


def upper_decide(api, username, case, decision="approve", opinion="同意", **extra):
    return api(username).post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {
        "decision": decision, "opinion": opinion, **extra}})


def entries(case_id, entity="establishment"):
    return db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.case_id == case_id,
                                                           ChronicleEntry.entity == entity)).all()


def listed(api, username, case):
    return [t["name"] for t in api(username).get("/api/v1/tasks?limit=200").json if t["case_id"] == case["id"]]


def test_an_administrative_adjustment_is_approved_by_the_city_and_applied_only_then(app, api):
    case = to_city(api)
    with app.app_context():
        assert approved(CLERK1_UNIT, "行政编制") == 0 and entries(case["id"]) == []  # the county's yes is not enough
    assert listed(api, "city_reviewer1", case) == ["上级编办审核"] and listed(api, "reviewer1", case) == []
    refused = upper_decide(api, "reviewer1", case)  # the county's reviewer cannot act on the city's step
    assert refused.status_code == 403 and refused.json["error"]["message"] == "此任务由其他编办办理"
    response = upper_decide(api, "city_reviewer1", case, opinion="符合行政编制核定条件")
    assert response.status_code == 200, response.json
    case = response.json
    assert [t["name"] for t in case["tasks"]] == ["上级编办审批"]
    assert listed(api, "city_leader1", case) == ["上级编办审批"] and listed(api, "leader1", case) == []
    assert upper_decide(api, "leader1", case, reply_no=REPLY).status_code == 403
    assert upper_decide(api, "city_reviewer1", case, reply_no=REPLY).status_code == 403  # a reviewer, not a leader
    with app.app_context():
        assert approved(CLERK1_UNIT, "行政编制") == 0
    no_reply = upper_decide(api, "city_leader1", case)
    assert no_reply.status_code == 422 and "reply_no" in no_reply.json["error"]["fields"]
    response = upper_decide(api, "city_leader1", case, reply_no=REPLY)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "approved" and response.json["tasks"] == []
    assert [h["step"] for h in response.json["history"]][-3:] == ["主任办公会研究决定", "上级编办审核", "上级编办审批"]
    with app.app_context():
        assert approved(CLERK1_UNIT, "行政编制") == 2
        [entry] = entries(case["id"])
        assert db.session.get(Case, entry.case_id).number == case["number"] and entry.after["document"] == REPLY
        assert (entry.delta, entry.user.username) == ({"category": "行政编制", "approved": 2}, "city_leader1")
        document = db.session.scalar(select(Document).where(Document.number == REPLY))
        assert document.title.startswith("绍兴市委编办批复：")
        notice = db.session.scalar(select(Notice).where(Notice.case_id == case["id"]))
        assert f"经主任办公会研究（{MINUTES}），报绍兴市委编办批复（{REPLY}），同意" in notice.html
        assert "行政编制核定数由 0 名调整为 2 名" in notice.html


def test_the_county_acts_on_its_steps_and_the_city_reads_the_case(api):
    case = apply(api("clerk1"), **ADMINISTRATIVE).json
    shown = api("city_reviewer1").get(f"/api/v1/cases/{case['id']}")
    assert shown.status_code == 200 and shown.json["number"] == case["number"]  # the roll-up reads it
    assert api("reviewer_b1").get(f"/api/v1/cases/{case['id']}").status_code == 404  # a sibling county never
    refused = decide(api("city_reviewer1"), only_task(case))  # 柯桥's 初审 is its section's
    assert refused.status_code == 403 and refused.json["error"]["message"] == "此任务由案件单位的归口科室办理"
    assert listed(api, "city_reviewer1", case) == []
    case = decide(api("reviewer1"), only_task(case)).json
    refused = decide(api("city_leader1"), only_task(case))
    assert refused.status_code == 403 and refused.json["error"]["message"] == "此任务由归口科室的分管领导办理"
    assert listed(api, "city_leader1", case) == []


def test_the_city_cannot_hold_the_countys_meeting(api):
    case = to_meeting(api, **ADMINISTRATIVE)
    response = api("city_leader1").post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {
        "decision": "approve", "meeting_date": clock.today().isoformat(), "minutes_no": MINUTES, "opinion": ""}})
    assert response.status_code == 403 and response.json["error"]["message"] == "此任务由其他编办办理"


def test_a_change_above_the_threshold_goes_up_whatever_its_category(api):
    assert [t["name"] for t in meeting(api, to_meeting(api, change=6)).json["tasks"]] == ["上级编办审核"]


def test_a_change_at_the_threshold_stays_local(app, api):
    response = meeting(api, to_meeting(api, change=5))
    assert response.json["state"] == "approved" and response.json["tasks"] == []
    with app.app_context():
        assert approved(CLERK1_UNIT) == 45


def test_the_city_returns_to_the_unit_and_the_amended_case_is_decided_afresh(app, api):
    case = to_city(api)
    response = upper_decide(api, "city_reviewer1", case, "return", "行政编制须由机构改革方案核定，请改报事业编制")
    assert response.status_code == 200, response.json
    case = response.json
    assert [t["name"] for t in case["tasks"]] == ["填写编制调整申请"]
    amended = api("clerk1").post(f"/api/v1/tasks/{only_task(case)}/complete", json={"data": {
        "unit": CLERK1_UNIT, "category": "事业编制", "change": 3, "reason": "改报事业编制 3 名"}})
    assert amended.status_code == 200, amended.json
    case = decide(api("reviewer1"), only_task(amended.json)).json
    case = decide(api("leader1"), only_task(case)).json
    response = meeting(api, case)  # 事业编制 3 名: below the threshold, the meeting decides
    assert response.json["state"] == "approved", response.json
    with app.app_context():
        assert (approved(CLERK1_UNIT), approved(CLERK1_UNIT, "行政编制")) == (43, 0)
        [entry] = entries(case["id"])
        assert entry.after["document"] == MINUTES


def test_the_citys_rejection_ends_the_case_and_changes_nothing(app, api):
    case = to_city(api)
    case = upper_decide(api, "city_reviewer1", case).json
    response = upper_decide(api, "city_leader1", case, "reject", "不符合行政编制核定条件")
    assert response.status_code == 200 and response.json["state"] == "rejected"
    with app.app_context():
        assert approved(CLERK1_UNIT, "行政编制") == 0 and entries(case["id"]) == []


def test_sending_up_from_the_top_office_is_refused_whole(app, api):
    case = to_meeting(api, **ADMINISTRATIVE)
    with app.app_context():  # 柯桥 made a top office: there is no one above to send it to
        office = db.session.scalar(select(Office).where(Office.code == "330603"))
        office.parent_id = None
        db.session.commit()
    response = meeting(api, case)
    assert response.status_code == 409, response.json
    assert response.json["error"]["message"] == ("「上级编办审核」须报上级编办审批，但柯桥区委编办没有上级编办；"
                                                 "请流程管理员修改流程图或由系统管理员设置编办层级")
    after = api("leader1").get(f"/api/v1/cases/{case['id']}").json
    assert after["state"] == "running" and [t["name"] for t in after["tasks"]] == ["主任办公会研究决定"]
    assert [h["step"] for h in after["history"]][-1] == "分管领导审核"  # the meeting's yes was not written
    with app.app_context():
        assert approved(CLERK1_UNIT, "行政编制") == 0 and entries(case["id"]) == []


def routed_line(response):
    found = re.search(r'<p class="routed" id="routed">(.*?)</p>', response.get_data(as_text=True), re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_task_page_says_where_the_step_is_and_whence_the_case_comes(app, api):
    case = to_city(api)
    page = user_client(app, "city_reviewer1").get(f"/tasks/{only_task(case)}")
    assert routed_line(page) == "本环节由绍兴市委编办办理 · 报送编办：柯桥区委编办（县（区）级）"
    local = apply(api("clerk1")).json
    assert routed_line(user_client(app, "reviewer1").get(f"/tasks/{only_task(local)}")) == "本环节由机关编制科办理"
