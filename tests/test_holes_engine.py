"""Holes in the process engine's shell: a diagram in which the unit approves itself, form keys
that are paths, a missing decision table named by its task, and the sandbox's resource limits."""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bianzhi.cases.models import Case
from bianzhi.errors import DefinitionError
from bianzhi.extensions import db
from bianzhi.processes import drafts
from bianzhi.processes import operations as processes
from bianzhi.processes.models import ProcessVersion

ROOT = Path(__file__).resolve().parents[1]
XML = (ROOT / "bpmn" / "vacancy_use.bpmn").read_text(encoding="utf-8")


def folder_forms(xml):
    return drafts.forms_for(xml, {})


HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://bianzhi.gov.cn/bpmn">')


def props(**values):
    return ("<bpmn:extensionElements><camunda:properties>"
            + "".join(f'<camunda:property name="{k}" value="{v}" />' for k, v in values.items())
            + "</camunda:properties></bpmn:extensionElements>")


def diagram(lanes, body):
    """A process `self_service` with the given lanes ({lane name: [element ids]}) and body."""
    lane_xml = "".join(f'<bpmn:lane id="Lane_{i}" name="{name}">'
                       + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs) + "</bpmn:lane>"
                       for i, (name, refs) in enumerate(lanes.items()))
    return (HEAD + '<bpmn:process id="self_service" name="自批" isExecutable="true">'
            f'<bpmn:laneSet id="LaneSet_1">{lane_xml}</bpmn:laneSet>{body}</bpmn:process></bpmn:definitions>')


SELF_APPROVAL = diagram(
    {"单位经办人": ["StartEvent_1", "Task_apply", "Service_reserve", "End_approved"]},
    '<bpmn:startEvent id="StartEvent_1" name="开始" />'
    '<bpmn:userTask id="Task_apply" name="填写申请" camunda:formKey="vacancy_use_apply" />'
    f'<bpmn:serviceTask id="Service_reserve" name="预留编制">{props(operation="reserve_places")}</bpmn:serviceTask>'
    f'<bpmn:endEvent id="End_approved" name="核准">{props(state="approved")}</bpmn:endEvent>'
    '<bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_apply" />'
    '<bpmn:sequenceFlow id="F2" sourceRef="Task_apply" targetRef="Service_reserve" />'
    '<bpmn:sequenceFlow id="F3" sourceRef="Service_reserve" targetRef="End_approved" />')

# the bureau reviews on one path only: an exclusive gateway after the application lets the unit
# choose the other one, straight to the ledger operation
BYPASS = diagram(
    {"单位经办人": ["StartEvent_1", "Task_apply", "Gateway"], "业务科室": ["Task_review"],
     "分管领导": ["Service_reserve", "End_approved", "End_rejected"]},
    '<bpmn:startEvent id="StartEvent_1" name="开始" />'
    '<bpmn:userTask id="Task_apply" name="填写申请" camunda:formKey="vacancy_use_apply" />'
    '<bpmn:exclusiveGateway id="Gateway" name="走哪条路" default="F_review" />'
    '<bpmn:userTask id="Task_review" name="初审" camunda:formKey="review" />'
    f'<bpmn:serviceTask id="Service_reserve" name="预留编制">{props(operation="reserve_places")}</bpmn:serviceTask>'
    f'<bpmn:endEvent id="End_approved" name="核准">{props(state="approved")}</bpmn:endEvent>'
    f'<bpmn:endEvent id="End_rejected" name="不予通过">{props(state="rejected")}</bpmn:endEvent>'
    '<bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_apply" />'
    '<bpmn:sequenceFlow id="F2" sourceRef="Task_apply" targetRef="Gateway" />'
    '<bpmn:sequenceFlow id="F_review" sourceRef="Gateway" targetRef="Task_review" />'
    '<bpmn:sequenceFlow id="F_skip" sourceRef="Gateway" targetRef="Service_reserve">'
    '<bpmn:conditionExpression>count &lt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>'
    '<bpmn:sequenceFlow id="F4" sourceRef="Task_review" targetRef="End_rejected" />'
    '<bpmn:sequenceFlow id="F5" sourceRef="Service_reserve" targetRef="End_approved" />')


# --- 2. a unit that approves itself -----------------------------------------------------------

def test_a_diagram_in_which_the_unit_approves_itself_is_refused_and_not_deployed(ctx):
    findings, _ = processes.validate(SELF_APPROVAL, folder_forms(SELF_APPROVAL))
    by_element = {(f.element, f.name): f.message for f in findings}
    assert set(by_element) == {("Service_reserve", "预留编制"), ("End_approved", "核准")}, findings
    assert "台账操作 reserve_places 之前必须经过局方审核环节" in by_element[("Service_reserve", "预留编制")]
    assert "结果「核准」（state=approved）之前必须经过局方审核环节" in by_element[("End_approved", "核准")]
    with pytest.raises(DefinitionError) as err:
        processes.deploy(SELF_APPROVAL, folder_forms(SELF_APPROVAL))
    assert set(err.value.fields) == {"Service_reserve", "End_approved"}
    assert db.session.scalar(select(func.count()).select_from(ProcessVersion)
                             .where(ProcessVersion.key == "self_service")) == 0


def test_a_path_around_the_bureau_is_refused_but_the_reviewed_outcome_is_not(ctx):
    findings, _ = processes.validate(BYPASS, folder_forms(BYPASS))
    # End_rejected is only reached through 初审; the operation and 核准 also by the unit's own path
    assert sorted(f.element for f in findings) == ["End_approved", "Service_reserve"], findings
    reviewed = BYPASS.replace('<bpmn:sequenceFlow id="F_skip" sourceRef="Gateway" targetRef="Service_reserve">',
                              '<bpmn:sequenceFlow id="F_skip" sourceRef="Gateway" targetRef="Task_review">')
    reviewed = reviewed.replace('targetRef="End_rejected" />', 'targetRef="Service_reserve" />')
    assert processes.validate(reviewed, folder_forms(reviewed))[0] == []


def test_a_timer_on_a_bureau_task_does_not_count_as_its_review(ctx):
    """A boundary timer fires while the bureau's task is still open: nobody at the bureau has
    decided, so an approval after it is the unit's own."""
    timed = XML.replace(
        '<bpmn:userTask id="Task_review" name="业务科室初审" camunda:formKey="review">',
        '<bpmn:boundaryEvent id="Timer_auto" name="逾期自动通过" attachedToRef="Task_review">'
        '<bpmn:outgoing>Flow_auto</bpmn:outgoing><bpmn:timerEventDefinition id="TimerDef_auto">'
        '<bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:sequenceFlow id="Flow_auto" sourceRef="Timer_auto" targetRef="Service_reserve" />'
        '<bpmn:userTask id="Task_review" name="业务科室初审" camunda:formKey="review">')
    findings, _ = processes.validate(timed, folder_forms(timed))
    assert [(f.element, f.name) for f in findings] == [("Event_approved", "核准使用编制"), ("Service_reserve", "预留编制")]


def test_every_shipped_diagram_still_validates(ctx):
    paths = sorted((ROOT / "bpmn").glob("*.bpmn"))
    assert len(paths) >= 8
    dmns = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "bpmn").glob("*.dmn")}
    for path in paths:
        xml = path.read_text(encoding="utf-8")
        assert processes.validate(xml, folder_forms(xml), drafts.decisions_for(xml, dmns))[0] == [], path.name


# --- 4. form keys are names, not paths --------------------------------------------------------

SECRET = {"components": [{"type": "secret-component-type", "key": "SECRET_VALUE_42"}]}


@pytest.fixture
def outside_form(app, tmp_path):
    """A .json form file outside forms/, and the relative and absolute form keys reaching it."""
    (tmp_path / "secret.json").write_text(json.dumps(SECRET), encoding="utf-8")
    forms_folder = Path(app.config["FORMS_FOLDER"]).resolve()
    relative = "../" * len(forms_folder.parts) + str(tmp_path / "secret").lstrip("/")
    assert (forms_folder / f"{relative}.json").resolve() == (tmp_path / "secret.json").resolve()
    return relative, str(tmp_path / "secret")


@pytest.mark.parametrize("which", [0, 1])
def test_a_form_key_that_is_a_path_is_a_finding_and_nothing_outside_forms_is_read(ctx, outside_form, which,
                                                                                 monkeypatch):
    key = outside_form[which]
    xml = XML.replace('camunda:formKey="review"', f'camunda:formKey="{key}"', 1)
    opened = []
    real = Path.read_text

    def spy(self, *args, **kwargs):
        opened.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    forms = drafts.forms_for(xml, {})
    findings, _ = processes.validate(xml, forms)
    assert not any("secret" in str(p) for p in opened), opened
    assert key not in forms
    assert [(f.element, f.name) for f in findings] == [("Task_review", "业务科室初审")]
    assert "表单标识（camunda:formKey）只能由字母、数字和下划线组成" in findings[0].message
    assert "SECRET_VALUE_42" not in " ".join(str(f) for f in findings)
    parsed = processes.adapter.parse(xml)
    assert key not in processes.read_forms(parsed, ROOT / "forms")
    assert not any("secret" in str(p) for p in opened), opened


def test_the_validate_command_does_not_read_a_form_outside_forms(app, outside_form, tmp_path):
    diagram_path = tmp_path / "traversal.bpmn"
    diagram_path.write_text(XML.replace('camunda:formKey="review"', f'camunda:formKey="{outside_form[0]}"', 1),
                            encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["validate", str(diagram_path)])
    assert result.exit_code == 1
    assert "SECRET_VALUE_42" not in result.output and "secret-component-type" not in result.output
    assert f"{diagram_path}: Task_review（业务科室初审）：表单标识（camunda:formKey）只能由" in result.output


# --- 12. a missing decision table is named by the task that calls it --------------------------

def test_validate_command_names_the_business_rule_task_of_a_missing_decision_table(app, tmp_path):
    path = tmp_path / "extra_plan.bpmn"
    path.write_text((ROOT / "bpmn" / "extra_plan.bpmn").read_text(encoding="utf-8"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["validate", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [(
        f"{path}: Rule_meeting（是否提交主任办公会）：找不到决策表 extra_plan_meeting"
        "（camunda:decisionRef；应在 bpmn/ 下或流程图旁的 .dmn 文件中）")]


# --- 3. the sandbox's resource limits ---------------------------------------------------------

PAYLOADS = [  # (code, is_script): each passes validation; only running shows the size
    ("a = ['x']\nfor i in range(40):\n    a.extend(a)", True),
    ("''.join(['a' * 1000000] * 200000)", False),
    ("('a' * 999999 + 'b') in ['a' * 1000000] * 200000", False),
    # the same lists built a line at a time, where `*` cannot see them coming
    ("s = 'a' * 1000000\nL = [s]\nfor i in range(17):\n    L.extend(L)\nx = ''.join(L)", True),
    ("s = 'a' * 1000000\nL = [s]\nfor i in range(17):\n    L.extend(L)\nx = ('a' * 999999 + 'b') in L", True),
    ("s = 'a' * 1000000\nL = [s]\nfor i in range(17):\n    L.extend(L)\nx = L.count(s + '')", True),
    ("s = 'a' * 1000000\nL = [s]\nfor i in range(17):\n    L.extend(L)\nx = str(L)", True),
    ("s = 'a' * 1000000\nL = [s]\nfor i in range(17):\n    L.extend(L)\nx = sorted(L)", True),
    ("s = 'a' * 1000000\nL = [s]\nM = [s + '']\nfor i in range(17):\n    L.extend(L)\n    M.extend(M)\nx = L == M",
     True),
    ("s = 'a' * 1000000\nx = s.replace('a', s)", True),
    ("s = 'a' * 1000000\nx = s.strip('b' * 999999 + 'a')", True),
    ("x = ('é' * 100000).encode('punycode')", True),   # a codec written in Python runs untraced
    ("x = round(5, -1000000000)", True),
    ("L = ['x']\nfor i in range(30):\n    L[:0] = L", True),
    # many allocations, each within the limits: the memory and work budgets stop them
    ("L = []\nfor i in range(999):\n    L.append('a' * 999990 + str(i))", True),
    ("L = [0] * 1000000\nM = [" + ", ".join(["L[:]"] * 30) + "]", True),
    ("L = [0] * 1000000\nx = " + " or ".join(["-1 in L"] * 60), True),
]

_MEASURE = r"""
import json, resource, sys, time
from bianzhi.engine import sandbox
results = []
env = sandbox.RestrictedEnvironment()
for code, is_script in json.loads(sys.argv[1]):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    try:
        (env.execute if is_script else env.evaluate)(code, {})
        outcome = None
    except sandbox.UnsafeExpression as exc:
        outcome = str(exc)
    except BaseException as exc:
        outcome = "not refused: " + type(exc).__name__
    results.append({"outcome": outcome, "seconds": time.monotonic() - started,
                    "grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024})
print(json.dumps(results))
"""


def _cap_address_space():  # the machine's safety net if the sandbox fails, well above its budget
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))


def test_payloads_are_refused_quickly_without_growing_the_process():
    """Each payload in a fresh process (peak memory only grows): refused with a Chinese reason
    within the time budget, the process's peak resident memory not grown by hundreds of MB."""
    from bianzhi.engine import sandbox
    for code, is_script in PAYLOADS:
        assert sandbox.check(code, is_script) is None, code
    platform = str(ROOT / "platform")
    done = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(PAYLOADS)], capture_output=True, text=True,
                          check=False, timeout=120, env={"PYTHONPATH": platform, "PATH": "/usr/bin:/bin"},
                          preexec_fn=_cap_address_space)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for (code, _), result in zip(PAYLOADS, results):
        assert result["outcome"] and not result["outcome"].startswith("not refused"), (code, result)
        assert re.search(r"[\u4e00-\u9fff]", result["outcome"]), (code, result)
        assert result["seconds"] < 1.5, (code, result)  # the budget is 1 second
        assert result["grew_mb"] < 160, (code, result)  # the budget is 100 MB


@pytest.mark.parametrize("code", [PAYLOADS[0][0], "x = " + PAYLOADS[1][0], "x = " + PAYLOADS[2][0]])
def test_a_case_whose_script_is_a_payload_is_refused_and_not_started(ctx, api, code):
    """At the start of a case: a Chinese engine error, quickly, and no case is left behind."""
    from tests.fixtures.cases import application
    task = (f'<bpmn:scriptTask id="Script_payload" name="计算"><bpmn:script>{code.replace("<", "&lt;")}'
            '</bpmn:script></bpmn:scriptTask>')
    xml = XML.replace(
        '<bpmn:sequenceFlow id="Flow_to_review" sourceRef="Task_apply" targetRef="Task_review" />',
        '<bpmn:sequenceFlow id="Flow_to_review" sourceRef="Task_apply" targetRef="Script_payload" />'
        '<bpmn:sequenceFlow id="Flow_payload" sourceRef="Script_payload" targetRef="Task_review" />' + task)
    assert 'targetRef="Script_payload"' in xml
    processes.deploy(xml, folder_forms(xml), comment="payload")
    db.session.commit()
    cases_before = db.session.scalar(select(func.count()).select_from(Case))
    started = time.monotonic()
    response = api("clerk1").post("/api/v1/cases", json={"process": "vacancy_use", "data": application()})
    assert time.monotonic() - started < 5
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "engine_error"
    assert re.search(r"过大|超出", response.json["error"]["message"]), response.json
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Case)) == cases_before


def test_what_scripts_and_conditions_do_every_day_still_works():
    from bianzhi.engine import sandbox
    env = sandbox.RestrictedEnvironment()
    data = {"count": 3, "decision": "approve", "lines": [{"n": 1}, {"n": 2}], "d": {"a": 1}}
    assert env.evaluate("0 < count < 10 and decision != 'x'", dict(data)) is True
    assert env.evaluate("lines[0]['n'] < count <= len(lines) + 1", dict(data)) is True
    assert env.evaluate("isinstance(decision, str) and issubclass(bool, int)", dict(data)) is True
    assert env.evaluate("str.join('-', [str(l['n']) for l in lines]) + str.upper(decision)", dict(data)) == "1-2APPROVE"
    assert env.evaluate("f'{count:>3}|{lines}' + '%s 名' % count", dict(data)) == "  3|[{'n': 1}, {'n': 2}]3 名"
    assert env.evaluate("(sum([[1], [2]], []), sum([1, 2]), max(1, 5), sorted([3, 1]))", dict(data)) == \
        ([1, 2], 3, 5, [1, 3])
    assert env.evaluate("'a' in d and 1 in d.values() and count in [1, 2, 3] and (1, 2) < (1, 3)", dict(data))
    env.execute("L = [2, 1]\nL.extend([3])\nL.sort()\nL.remove(1)\nn = L.count(2)\nt = 'abc'.replace('b', 'xx')", data)
    assert (data["L"], data["n"], data["t"]) == ([2, 3], 1, "axxc")
    assert "中间项" in sandbox.check("0 < lines.pop() < 5")
    assert "多条语句" in sandbox.check("a = 1; b = 2", is_script=True)
    assert sandbox.check("if count: x = 1", is_script=True) is None  # one statement on the line
    env.execute("if count > 1:\n    x = 'é'.encode('utf-8').decode('utf-8') + str(b'a', 'ascii')\ny = round(2.567, 2)", data)
    assert (data["x"], data["y"]) == ("éa", 2.57)
    assert "展开" in sandbox.check("[*lines, *lines]")
    assert "不能超过" in sandbox.check("f'" + "{count}" * (sandbox.MAX_FSTRING_FIELDS + 1) + "'")
