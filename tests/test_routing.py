"""The routing table (issue 15): who holds a step, for every kind of `assignment` a diagram may
give a user task, on the demo organisation — 柯桥's 机关编制科 (clerk1's unit: reviewer1 and
reviewer2, leader1 in charge) and 事业编制科 (clerk2's unit: reviewer2, leader1), the city office
above it (city_reviewer1, city_leader1), 越城 beside it (reviewer_b1, leader_b1), 柯桥's partner
departments (zzb1 组织部 …). Each row deploys vacancy_use with its 业务科室初审 step routed as the
row says, starts a case, and checks exactly who sees the step in their inbox and may act on it."""
import copy
from pathlib import Path

import pytest
from sqlalchemy import select

from bianzhi.accounts.models import User, role_for_lane
from bianzhi.cases.models import OpenTask
from bianzhi.errors import Conflict
from bianzhi.extensions import db
from bianzhi.inbox.assignment import holders
from bianzhi.notifications.models import Notification
from bianzhi.organisation import operations as org
from bianzhi.organisation.models import Office
from bianzhi.processes import drafts
from bianzhi.processes import operations as processes
from tests.fixtures.cases import CLERK2_UNIT, application, decide, only_task

ROOT = Path(__file__).resolve().parents[1]
XML = (ROOT / "bpmn" / "vacancy_use.bpmn").read_text(encoding="utf-8")
REVIEW_PROPS = '''<bpmn:userTask id="Task_review" name="业务科室初审" camunda:formKey="review">
      <bpmn:extensionElements>
        <camunda:properties>'''
REGISTER_PROPS = REVIEW_PROPS.replace('id="Task_review" name="业务科室初审" camunda:formKey="review"',
                                      'id="Task_register" name="落编登记" camunda:formKey="registration"')
CONFIRM_PROPS = REVIEW_PROPS.replace('id="Task_review" name="业务科室初审" camunda:formKey="review"',
                                     'id="Task_confirm" name="落编确认" camunda:formKey="confirm"')
assert XML.count(REVIEW_PROPS) == XML.count(REGISTER_PROPS) == XML.count(CONFIRM_PROPS) == 1
BUREAU = ("reviewer1", "reviewer2", "leader1", "city_reviewer1", "city_leader1", "reviewer_b1", "leader_b1",
          "zzb1", "rsj1", "czj1", "clerk1", "clerk2", "admin", "city_admin1")


def deploy(assignment=None, lane=None, form_field=None, step=REVIEW_PROPS):
    """vacancy_use with the 初审 step (or `step`) routed by `assignment` (and the 初审 lane renamed
    to `lane`); `form_field` adds a text field to the application form (for field: routing)."""
    xml = XML
    if assignment is not None:
        assert xml.count(step) == 1
        xml = xml.replace(step, step + f'<camunda:property name="assignment" value="{assignment}" />')
    if lane is not None:
        xml = xml.replace('<bpmn:lane id="Lane_reviewer" name="业务科室">', f'<bpmn:lane id="Lane_reviewer" name="{lane}">')
        if role_for_lane(lane) == "partner":  # the lane's other step (落编确认) names the department too:
            assert xml.count(CONFIRM_PROPS) == 1  # the validator refuses a partner step without one
            xml = xml.replace(CONFIRM_PROPS, CONFIRM_PROPS + f'<camunda:property name="assignment" value="{assignment}" />')
    forms = drafts.forms_for(xml, {})
    if form_field:
        forms["vacancy_use_apply"] = form = copy.deepcopy(forms["vacancy_use_apply"])
        form["components"].append({"type": "textfield", "key": form_field, "label": "指定审核人（用户名）"})
    version, _ = processes.deploy(xml, forms, comment=f"routing test: {assignment}")
    db.session.commit()
    return version


def start(api, clerk="clerk1", **data):
    unit = CLERK2_UNIT if clerk == "clerk2" else None
    body = application(**({"unit": unit} if unit else {}), **data)
    response = api(clerk).post("/api/v1/cases", json={"process": "vacancy_use", "data": body})
    assert response.status_code == 201, response.json
    return response.json


def who_sees(api, task_id):
    """The users whose inbox (GET /api/v1/tasks) lists the task."""
    seen = set()
    for name in BUREAU:
        response = api(name).get("/api/v1/tasks")
        if response.status_code == 200 and task_id in [t["id"] for t in response.json]:
            seen.add(name)
        else:  # the admins are no task actors: 403
            assert response.status_code in (200, 403)
    return seen


def task_row(task_id):
    db.session.expire_all()
    return db.session.get(OpenTask, task_id)


ROWS = [
    # (assignment, lane, clerk, who holds the 初审 step)
    (None, None, "clerk1", {"reviewer1", "reviewer2"}),  # default: section of clerk1's unit (机关编制科)
    (None, None, "clerk2", {"reviewer2"}),  # 事业编制科: reviewer1 is not in it
    ("section", None, "clerk2", {"reviewer2"}),
    ("leader_of_section", "分管领导", "clerk1", {"leader1"}),
    ("office", None, "clerk1", {"reviewer1", "reviewer2"}),  # any reviewer of 柯桥
    ("office_above", None, "clerk1", {"city_reviewer1"}),  # 上报审批: the city's reviewers
    ("office_above", "分管领导", "clerk2", {"city_leader1"}),
    ("department:zzb", "组织部", "clerk1", {"zzb1"}),  # 部门联审: 柯桥's 组织部 only
    ("department:czj", "财政局", "clerk2", {"czj1"}),
    ("user:reviewer2", None, "clerk1", {"reviewer2"}),
    ("section:sy", None, "clerk1", {"reviewer2"}),  # a named section, whoever owns the unit
    ("leader_of_section:jg", "分管领导", "clerk2", {"leader1"}),
]


@pytest.mark.parametrize("assignment, lane, clerk, expected", ROWS)
def test_the_routing_table(app, api, ctx, assignment, lane, clerk, expected):
    deploy(assignment, lane)
    task_id = only_task(start(api, clerk))
    assert who_sees(api, task_id) == expected
    row = task_row(task_id)
    assert {u.username for u in holders(row)} == expected and not row.unheld
    outsider = next(n for n in ("reviewer_b1", "reviewer1", "city_reviewer1") if n not in expected)
    refused = decide(api(outsider), task_id)
    assert refused.status_code in (403, 404), refused.json  # 404: the case is not theirs to see at all
    insider = sorted(expected)[0]
    done = decide(api(insider), task_id)
    assert done.status_code == 200, done.json


def test_field_and_starter_route_to_the_named_user(app, api, ctx):
    deploy("field:handler", form_field="handler")
    task_id = only_task(start(api, handler="reviewer2"))
    assert who_sees(api, task_id) == {"reviewer2"} and task_row(task_id).pool == "user"
    # a name that may not hold the step (a clerk in a bureau lane): nobody holds it, the admins are told
    task_id = only_task(start(api, handler="clerk2"))
    row = task_row(task_id)
    assert row.unheld and row.assignee_id is None and who_sees(api, task_id) == set()
    assert notified("admin", "unheld") and not notified("city_admin1", "unheld")
    # starter: the 落编登记 step goes to the clerk who started the case, not to a colleague of the unit
    deploy("starter", step=REGISTER_PROPS)
    from bianzhi.accounts.operations import create_user
    from tests.conftest import PASSWORD

    create_user("clerk1b", PASSWORD, "疾控另一经办人", ["unit_clerk"], db.session.scalar(
        select(User).where(User.username == "clerk1")).unit)
    db.session.commit()
    case = start(api)
    case = decide(api("reviewer1"), only_task(case)).json
    case = decide(api("leader1"), only_task(case)).json
    task_id = only_task(case)
    assert task_row(task_id).pool == "user"
    assert task_id in [t["id"] for t in api("clerk1").get("/api/v1/tasks").json]
    assert task_id not in [t["id"] for t in api("clerk1b").get("/api/v1/tasks").json]


def notified(username, kind):
    user = db.session.scalar(select(User).where(User.username == username))
    return db.session.scalar(select(Notification.id).where(Notification.user_id == user.id,
                                                           Notification.kind == kind).limit(1)) is not None


def test_nobody_in_the_section_sends_the_step_to_the_admins_and_a_new_member_takes_it(app, api, ctx):
    office = org.office_by_code("330603")
    section = org.section_by_code(office, "sy")  # clerk2's unit's: reviewer2 alone
    reviewer2 = db.session.scalar(select(User).where(User.username == "reviewer2"))
    org.remove_member(None, section, reviewer2, "reviewer")
    db.session.commit()
    task_id = only_task(start(api, "clerk2"))
    row = task_row(task_id)
    assert row.unheld and row.section_id == section.id and holders(row) == []
    assert who_sees(api, task_id) == set()
    assert notified("admin", "unheld")
    # the step keeps its routing: whoever joins the section holds it from then on
    reviewer1 = db.session.scalar(select(User).where(User.username == "reviewer1"))
    org.add_member(None, org.section_by_code(office, "sy"), reviewer1, "reviewer")
    db.session.commit()
    assert who_sees(api, task_id) == {"reviewer1"}
    assert decide(api("reviewer1"), task_id).status_code == 200


def test_a_leader_gone_without_a_delegate_is_unheld_and_a_delegate_holds_it(app, api, ctx):
    leader1 = db.session.scalar(select(User).where(User.username == "leader1"))
    leader1.active = False
    db.session.commit()
    case = decide(api("reviewer1"), only_task(start(api))).json
    assert task_row(only_task(case)).unheld


def test_office_above_from_the_top_office_is_refused_and_nothing_is_written(app, api, ctx):
    from bianzhi.cases.models import Case

    city = org.office_by_code("330600")
    # make 越城 a top office for the test: its cases have nowhere to go up to
    yue = org.office_by_code("330602")
    yue.parent_id, yue.path = None, f"/{yue.id}/"
    db.session.commit()
    deploy("office_above")
    before = db.session.scalar(select(db.func.count()).select_from(Case))
    response = api("clerk_b1").post("/api/v1/cases", json={"process": "vacancy_use", "data": application(
        unit="12330602B01000000X")})
    assert response.status_code == 409, response.json
    assert "没有上级编办" in response.json["error"]["message"]
    db.session.expire_all()
    assert db.session.scalar(select(db.func.count()).select_from(Case)) == before
    assert city.parent_id is None


def test_a_department_the_region_lacks_is_unheld(app, api, ctx):
    office = org.office_by_code("330603")
    org.create_department(None, office, "gzw", "柯桥区国资办")  # exists in 柯桥, not in 越城
    db.session.commit()
    deploy("department:gzw", lane="联审部门")
    task_id = only_task(start(api))
    row = task_row(task_id)  # 柯桥 has the department, nobody in it yet: nobody holds the step
    assert row.unheld and row.partner_department_id is not None and holders(row) == []
    assert notified("admin", "unheld")
    response = api("clerk_b1").post("/api/v1/cases", json={"process": "vacancy_use", "data": application(
        unit="12330602B01000000X")})
    assert response.status_code == 201
    row = task_row(only_task(response.json))
    assert row.unheld and row.partner_department_id is None


def test_assignment_values_read_in_chinese_and_bad_ones_are_named():
    from bianzhi.organisation import routing

    assert routing.describe(None, "reviewer", "业务科室") == "案件单位归口科室"
    assert routing.describe(None, "leader", "主任办公会") == "本级编办同角色人员"
    assert routing.describe("section:sy") == "指定科室：sy"
    assert routing.describe("department:zzb") == "联审部门：zzb"
    for bad, says in [("boss", "无法识别"), ("department:", "部门代码"), ("office_above:x", "不带参数"),
                      ("user:a b", "只能含")]:
        with pytest.raises(ValueError, match=says):
            routing.parse(bad)


def test_route_raises_a_conflict_not_a_traceback(app, ctx):
    from bianzhi.organisation import routing

    class Element:
        name, lane, properties = "上报", "业务科室", {"assignment": "office_above"}

    class Case:
        office_id = db.session.scalar(select(Office.id).where(Office.code == "330600"))
        unit = None

    with pytest.raises(Conflict):
        routing.route(Case, Element, "reviewer")


def test_reminders_and_escalations_follow_the_routing(app, api):
    """The reminder goes to the step's holders (事业编制科: reviewer2, not reviewer1); the
    escalation to the leaders in charge of the unit's section, never to another office's."""
    from tests.fixtures.inbox import at, beijing, notes, run_worker

    with at(beijing(2024, 9, 27)):
        case = start(api, "clerk2")
    number = case["number"]
    assert run_worker(app, beijing(2024, 10, 9, 9, 0)) == 1
    assert [n for n in notes(app, "reviewer2")] == [("remind", f"到期提醒：「{number} 业务科室初审」将于 2024-10-10 到期")]
    assert notes(app, "reviewer1") == []
    assert run_worker(app, beijing(2024, 10, 11, 9, 0)) == 1
    assert notes(app, "leader1", "escalate") == [("escalate", f"超期督办：「{number} 业务科室初审」已超过办理期限 2024-10-10")]
    assert notes(app, "leader_b1") == [] and notes(app, "city_leader1") == []


def test_me_and_offices_say_where_the_caller_sits(api):
    me = api("reviewer2").get("/api/v1/me").json
    assert me["office"] == {"code": "330603", "name": "柯桥区委编办", "level": "county"}
    assert me["sections"] == ["jg", "sy"] and me["department"] is None
    assert api("zzb1").get("/api/v1/me").json["department"] == "zzb"
    assert api("city_leader1").get("/api/v1/me").json["office"]["level"] == "city"
    city = api("city_reviewer1").get("/api/v1/offices").json
    assert [(o["code"], [c["code"] for c in o["children"]]) for o in city] == [("330600", ["330602", "330603"])]
    assert api("reviewer1").get("/api/v1/offices").json == [
        {"code": "330603", "name": "柯桥区委编办", "level": "county", "children": []}]
    assert [o["code"] for o in api("clerk_b1").get("/api/v1/offices").json] == ["330602"]
    assert [o["code"] for o in api("zzb1").get("/api/v1/offices").json] == ["330603"]
