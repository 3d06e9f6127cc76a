"""A step's holders as data in the diagram (organisation.routing): the validator's findings on a
user task's `assignment`, a diagram deploying with one and routing by it, the modeler's catalog
and the versions page's diff naming the change in Chinese."""
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bianzhi.accounts.models import User
from bianzhi.errors import DefinitionError
from bianzhi.extensions import db
from bianzhi.processes import operations as processes
from bianzhi.processes.diff import compare
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.pages import text_of, user_client

ROOT = Path(__file__).resolve().parents[1]
XML = (ROOT / "bpmn" / "vacancy_use.bpmn").read_text(encoding="utf-8")


def forms():
    return {k: json.loads((ROOT / "forms" / f"{k}.json").read_text(encoding="utf-8"))
            for k in ("vacancy_use_apply", "review", "registration", "confirm")}


def assigned(value, task="Task_review", xml=XML):
    """The diagram with the user task `task` given the assignment `value`."""
    found = re.search(rf'<bpmn:userTask id="{task}"[^>]*>\s*<bpmn:extensionElements>\s*<camunda:properties>', xml)
    return xml[:found.end()] + f'\n          <camunda:property name="assignment" value="{value}" />' + xml[found.end():]


def findings(xml, element):
    found, _parsed = processes.validate(xml, forms())
    return [f.message for f in found if f.element == element]


def only_finding(xml, element):
    found, _parsed = processes.validate(xml, forms())
    assert [f.element for f in found] == [element], [str(f) for f in found]
    return found[0].message


def test_the_deployed_diagrams_pass(ctx):
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        assert processes.validate(path.read_text(encoding="utf-8"), forms() | {
            k: json.loads((ROOT / "forms" / f"{k}.json").read_text(encoding="utf-8"))
            for k in [p.stem for p in (ROOT / "forms").glob("*.json")]},
            {d.name: d.read_text(encoding="utf-8") for d in (ROOT / "bpmn").glob("*.dmn")})[0] == [], path.name


def test_an_unknown_kind_or_a_malformed_value_is_named(ctx):
    message = only_finding(assigned("colleague"), "Task_review")
    assert message.startswith("办理人设置「colleague」无法识别；可用：unit（申请单位经办人）、section（案件单位归口科室）")
    assert only_finding(assigned("user:"), "Task_review") == "办理人设置 user: 后须写明用户名"
    assert only_finding(assigned("user:王 五"), "Task_review") == \
        "办理人设置「user:王 五」中的「王 五」只能含字母、数字、下划线、点和连字符"
    assert only_finding(assigned("office_above:330600"), "Task_review") == \
        "办理人设置 office_above 不带参数，现为「office_above:330600」"


def test_a_section_no_office_has_is_named(ctx):
    assert only_finding(assigned("section:zh2"), "Task_review") == "没有代码为 zh2 的科室；已设置的科室代码：jg、sy、zh"
    assert findings(assigned("section:sy"), "Task_review") == []  # 柯桥's 事业编制科, whoever owns the unit
    assert findings(assigned("leader_of_section:jg", "Task_leader"), "Task_leader") == []


def test_a_department_no_office_has_is_named(ctx):
    partner_lane = XML.replace('name="分管领导">', 'name="联审部门">')
    message = only_finding(assigned("department:gaj", "Task_leader", partner_lane), "Task_leader")
    assert message == "没有代码为 gaj 的联审部门；已设置的部门代码：czj、rsj、zzb"
    assert findings(assigned("department:zzb", "Task_leader", partner_lane), "Task_leader") == []


def test_a_user_who_is_gone_or_not_of_the_lane_is_named(ctx):
    assert only_finding(assigned("user:nobody"), "Task_review") == "办理人设置 user:nobody 中的用户 nobody 不存在"
    assert only_finding(assigned("user:leader1"), "Task_review") == \
        f"用户{display('leader1')}（leader1）不是业务科室，不能办理「业务科室」泳道的环节"
    db.session.scalar(select(User).where(User.username == "reviewer2")).active = False
    db.session.flush()
    assert only_finding(assigned("user:reviewer2"), "Task_review") == \
        f"办理人设置 user:reviewer2 中的用户{display('reviewer2')}（reviewer2）已停用"
    assert findings(assigned("user:reviewer1"), "Task_review") == []


def display(username):
    return db.session.scalar(select(User.display_name).where(User.username == username))


def test_a_field_must_be_filled_on_every_path_before_the_step(ctx):
    """The rule chosen: a step is routed when it opens, so the field must be in the form of a
    user task that every path from the start passes before this one; its own form does not
    count (a field in no form at all is named as such)."""
    assert only_finding(assigned("field:next_reviewer"), "Task_review") == \
        "办理人设置 field:next_reviewer 中的字段 next_reviewer 不在本流程任何用户任务的表单中"
    own = only_finding(assigned("field:opinion"), "Task_review")  # only the review form has it: its own
    assert own.startswith("办理人设置 field:opinion：有一条路径到达此环节时字段 opinion 尚未填写")
    assert findings(assigned("field:opinion", "Task_leader"), "Task_leader") == []  # 初审 always comes first
    assert findings(assigned("field:reason"), "Task_review") == []  # the application's field


@pytest.mark.parametrize("value, element, lane, reason", [
    ("section", "Task_apply", "单位经办人", "单位经办人泳道的环节由申请单位办理，不能交给局方科室"),
    ("leader_of_section", "Task_apply", "单位经办人", "单位经办人泳道的环节由申请单位办理，不能交给局方科室"),
    ("unit", "Task_review", "业务科室", "申请单位经办人只能办理单位经办人泳道的环节"),
    ("starter", "Task_leader", "分管领导", "案件发起人只能办理单位经办人泳道的环节"),
    ("department:zzb", "Task_review", "业务科室", "department: 只能用于联审部门泳道（角色 partner）"),
    ("leader_of_section", "Task_review", "业务科室", "leader_of_section 指归口科室的分管领导，只能用于分管领导泳道"),
    ("section", "Task_leader", "分管领导", "section 指归口科室的科室成员，只能用于业务科室泳道"),
])
def test_a_kind_outside_its_lane_is_named(ctx, value, element, lane, reason):
    message = only_finding(assigned(value, element), element)
    assert message.startswith(f"办理人设置 {value} 不能用于「{lane}」泳道：{reason}"), message
    assert "此泳道可用：" in message


def test_a_partner_lane_needs_a_department(ctx):
    partner_lane = XML.replace('name="分管领导">', 'name="联审部门">')
    assert only_finding(partner_lane, "Task_leader") == ("「联审部门」泳道（联审部门）的环节须指定办理的部门：assignment 写作 "
                                                         "department:部门代码（如 department:zzb），现为 office（未设置时的默认）")
    assert only_finding(assigned("user:zzb1", "Task_leader", partner_lane), "Task_leader").endswith(
        "现为 user:zzb1")


def test_a_refused_assignment_deploys_nothing(ctx):
    with pytest.raises(DefinitionError) as err:
        processes.deploy(assigned("user:nobody"), forms())
    assert err.value.fields["Task_review"] == ["Task_review（业务科室初审）：办理人设置 user:nobody 中的用户 nobody 不存在"]
    assert processes.latest("vacancy_use").version == 1


def test_a_diagram_with_a_valid_assignment_deploys_and_routes_by_it(api, ctx):
    version, created = processes.deploy(assigned("user:reviewer2"), forms(), comment="初审指定 reviewer2")
    db.session.commit()
    assert (version.version, created) == (2, True)
    case = start(api("clerk1"))  # clerk1's unit is 归口 to 机关编制科 (reviewer1's), yet the step is reviewer2's
    assert case["version"] == 2
    refused = decide(api("reviewer1"), only_task(case))
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == f"此任务指定由{display('reviewer2')}办理，您无权办理"
    assert [t["id"] for t in api("reviewer2").get("/api/v1/tasks").json if t["case_id"] == case["id"]] == \
        [only_task(case)]
    done = decide(api("reviewer2"), only_task(case))
    assert done.status_code == 200 and done.json["tasks"][0]["name"] == "分管领导审核"


def test_the_diff_names_an_assignment_change_in_chinese(ctx):
    diff = compare(XML, assigned("user:reviewer2"), {}, {})
    [change] = diff.changed
    assert (change.id, change.details) == ("Task_review", ["办理人：案件单位归口科室（泳道默认） → 指定用户：reviewer2"])
    back = compare(assigned("user:reviewer2"), assigned("office_above"), {}, {})
    assert back.changed[0].details == ["办理人：指定用户：reviewer2 → 上级编办同角色人员（上报审批）"]
    named = compare(XML, assigned("section:sy"), {}, {})
    assert named.changed[0].details == ["办理人：案件单位归口科室（泳道默认） → 指定科室：sy"]
    same = compare(XML, assigned("section"), {}, {})  # the lane's default written out: same holders
    assert same.changed[0].details == ["办理人设置：（无） → 「section」（办理人不变：案件单位归口科室）"]


def test_the_versions_page_shows_the_change(app, ctx):
    processes.deploy(assigned("office_above"), forms(), comment="初审报上级编办")
    db.session.commit()
    page = text_of(user_client(app, "owner1").get("/design/vacancy_use/versions"))
    assert "办理人：案件单位归口科室（泳道默认） → 上级编办同角色人员（上报审批）" in page


def test_the_modeler_is_given_the_kinds_each_lane_takes(app):
    body = user_client(app, "owner1").get("/design/vacancy_use/draft.json").json
    catalog = body["assignment"]
    kinds = {k["key"]: k for k in catalog["kinds"]}
    assert (kinds["department"]["argument"], kinds["department"]["optional"]) == ("部门代码", False)
    assert (kinds["section"]["argument"], kinds["section"]["optional"], kinds["section"]["named_label"]) == \
        ("科室代码", True, "指定科室")
    assert catalog["lanes"]["业务科室"] == {"role": "reviewer", "default": "section",
                                           "default_label": "案件单位归口科室",
                                           "kinds": ["section", "office", "office_above", "user", "field"]}
    assert catalog["lanes"]["主任办公会"]["default"] == "office"
    assert catalog["lanes"]["联审部门"]["kinds"] == ["department"]
    assert {"code": "zzb", "name": "柯桥区委组织部"} in catalog["departments"]
    assert {"code": "sy", "name": "事业编制科"} in catalog["sections"]
