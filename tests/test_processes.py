"""Deploying versions, the validator, and the sandbox that diagrams' expressions run in."""
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bianzhi.engine import sandbox
from bianzhi.errors import DefinitionError
from bianzhi.extensions import db
from bianzhi.processes import operations as processes
from bianzhi.processes.models import ProcessVersion
from tests.fixtures.cases import decide, only_task, start

ROOT = Path(__file__).resolve().parents[1]
XML = (ROOT / "bpmn" / "vacancy_use.bpmn").read_text(encoding="utf-8")


def forms():
    return {k: json.loads((ROOT / "forms" / f"{k}.json").read_text(encoding="utf-8"))
            for k in ("vacancy_use_apply", "review", "registration", "confirm")}


def test_unchanged_files_are_not_redeployed(ctx):
    version, created = processes.deploy(XML, forms())
    assert (version.version, created) == (1, False)


def test_changed_diagram_is_a_new_version_and_running_cases_keep_theirs(api, ctx):
    clerk, reviewer = api("clerk1"), api("reviewer1")
    old_case = start(clerk)
    changed = XML.replace('name="业务科室初审"', 'name="科室初审（新版）"')
    version, created = processes.deploy(changed, forms(), comment="改环节名称")
    db.session.commit()
    assert (version.version, created) == (2, True)
    listed = [p for p in clerk.get("/api/v1/processes").json if p["key"] == "vacancy_use"]
    assert listed == [{"key": "vacancy_use", "name": "空编使用", "version": 2}]
    new_case = start(clerk)
    assert new_case["version"] == 2 and new_case["tasks"][0]["name"] == "科室初审（新版）"
    assert old_case["version"] == 1
    response = decide(reviewer, only_task(old_case))
    assert response.status_code == 200 and response.json["version"] == 1
    assert [h["step"] for h in response.json["history"]] == ["填写空编使用申请", "业务科室初审"]


def test_a_changed_form_alone_makes_a_new_version(ctx):
    changed = forms()
    changed["review"]["components"][1]["label"] = "意见（修订）"
    version, created = processes.deploy(XML, changed)
    assert (version.version, created) == (2, True)


def findings_of(xml, form_set=None):
    with pytest.raises(DefinitionError) as err:
        processes.deploy(xml, forms() if form_set is None else form_set)
    return err.value.fields


def test_validator_names_the_element_and_what_to_change(ctx):
    fields = findings_of(XML.replace('name="业务科室">', 'name="财务科">'))
    assert any("泳道「财务科」不对应任何角色" in m for m in fields["Task_review"])
    fields = findings_of(XML.replace('camunda:formKey="review"', 'camunda:formKey="nope"', 1))
    assert fields["Task_review"] == ["Task_review（业务科室初审）：表单 nope 不存在（forms/nope.json）"]
    fields = findings_of(XML.replace('value="reserve_places"', 'value="rm_rf"'))
    assert "已注册的台账操作" in fields["Service_reserve"][0]
    fields = findings_of(XML.replace('decision == "reject"</bpmn:conditionExpression>',
                                     '().__class__.__base__.__subclasses__()</bpmn:conditionExpression>', 1))
    assert "条件不被允许" in fields["Flow_review_reject"][0]
    fields = findings_of(XML.replace('value="vacancy_use_approval"', 'value="missing_template"'))
    assert "templates/notices/missing_template.html 不存在" in fields["Event_approved"][0]
    fields = findings_of(XML.replace('<camunda:property name="deadline_days" value="5" />',
                                     '<camunda:property name="deadline_days" value="五天" />', 1))
    assert "deadline_days" in fields["Task_review"][0]
    assert "不是合法的 XML" in findings_of("<bpmn:definitions")["definitions"][0]
    assert db.session.scalar(select(ProcessVersion).where(ProcessVersion.version > 1)) is None


def test_broken_form_is_refused_with_the_component_named(ctx):
    broken = forms()
    broken["review"]["components"].append({"type": "select", "key": "level", "label": "等级"})
    fields = findings_of(XML, broken)
    assert fields["forms/review.json"] == ["forms/review.json（level）：「等级」没有可选项"]


@pytest.mark.parametrize("expression", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os').system('id')",
    "open('/etc/passwd').read()",
    "getattr(decision, '__class__')",
])
def test_sandbox_refuses_escapes(expression):
    env = sandbox.RestrictedEnvironment()
    with pytest.raises(Exception) as err:
        env.evaluate(expression, {"decision": "approve"})
    assert not isinstance(err.value, AssertionError)


def test_sandbox_refuses_imports_in_scripts_and_runs_plain_ones():
    assert sandbox.check("import os", is_script=True) == "脚本中不允许 import"
    env = sandbox.RestrictedEnvironment()
    data = {"count": 3}
    env.execute("total = count * 2\nnames = [str(i) for i in range(count)]", data)
    assert data == {"count": 3, "total": 6, "names": ["0", "1", "2"]}
    assert env.evaluate('decision == "approve" and count > 2', {"decision": "approve", "count": 3}) is True
