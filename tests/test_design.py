"""流程设计: drafts, validation, deploy and rollback, moving running cases, the case diagram JSON,
the validate command, and the sandbox against the known escapes."""
import io
import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bianzhi.audit.models import AuditEntry
from bianzhi.cases.models import Case, OpenTask
from bianzhi.engine import adapter, sandbox
from bianzhi.errors import Conflict
from bianzhi.extensions import db
from bianzhi.processes import migration
from bianzhi.processes import operations as processes
from bianzhi.processes.models import ProcessDraft, ProcessVersion
from tests.conftest import login
from tests.fixtures.cases import decide, only_task, start

ROOT = Path(__file__).resolve().parents[1]
XML = (ROOT / "bpmn" / "vacancy_use.bpmn").read_text(encoding="utf-8")
KEY = "vacancy_use"


def user(app, username):
    """A logged-in test client that sends the page's CSRF token with JSON writes."""
    client = login(app.test_client(), username)
    page = client.get("/cases").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    client.csrf = token
    return client


def form_post(client, path, data=None, **kw):
    return client.post(path, data={"csrf_token": client.csrf, **(data or {})}, **kw)


def save(client, bpmn=XML, forms=None, key=KEY):
    return client.put(f"/design/{key}/draft.json", json={"bpmn": bpmn, "forms": forms or {}})


def audit_actions():
    return [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def newest_version(key=KEY):
    return db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == key)
                             .order_by(ProcessVersion.version.desc()).limit(1))


# --- the modeler's JSON ------------------------------------------------------------------

def test_draft_json_offers_the_newest_version_and_the_names_the_panel_needs(app):
    owner = user(app, "owner1")
    body = owner.get(f"/design/{KEY}/draft.json").json
    assert (body["key"], body["name"], body["based_on"], body["is_draft"]) == (KEY, "空编使用", 1, False)
    assert body["bpmn"] == XML and set(body["forms"]) == {"vacancy_use_apply", "review", "registration", "confirm"}
    assert {"key": "unit_clerk", "label": "单位经办人"} in body["roles"]
    assert {"reserve_places", "register_people"} <= set(body["operations"])
    assert "vacancy_available" in body["rules"] and "review" in body["form_keys"]
    assert "vacancy_use_approval" in body["notice_templates"] and "_base" not in body["notice_templates"]
    assert body["updated_at"] and "updated_by" in body


def test_owner_saves_a_draft_that_affects_nobody(app, api):
    owner = user(app, "owner1")
    changed = XML.replace('name="业务科室初审"', 'name="科室初审（草稿）"')
    response = save(owner, changed, {"review": json.loads((ROOT / "forms" / "review.json").read_text())})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["is_draft"] and body["based_on"] == 1 and body["updated_by"] == "金志远"
    assert "科室初审（草稿）" in body["bpmn"] and list(body["forms"]) == ["review"]
    assert owner.get(f"/design/{KEY}/draft.json").json["bpmn"] == changed
    case = start(api("clerk1"))  # new cases still start on version 1, with its names
    assert case["version"] == 1 and case["tasks"][0]["name"] == "业务科室初审"
    with app.app_context():
        assert "process.draft_save" in audit_actions()


@pytest.mark.parametrize("username, method, path, body, status", [
    ("clerk1", "get", "/design/vacancy_use/draft.json", None, 403),
    ("clerk1", "put", "/design/vacancy_use/draft.json", {"bpmn": XML, "forms": {}}, 403),
    ("admin", "put", "/design/vacancy_use/draft.json", {"bpmn": XML, "forms": {}}, 403),
    ("reviewer1", "post", "/design/vacancy_use/validate", {}, 403),
    ("owner1", "post", "/design/vacancy_use/deploy", {"comment": "试试"}, 403),
    ("clerk1", "post", "/design/vacancy_use/deploy", {"comment": "试试"}, 403),
])
def test_only_owners_save_and_only_admins_deploy(app, username, method, path, body, status):
    client = user(app, username)
    response = getattr(client, method)(path, json=body)
    assert response.status_code == status
    error = response.json["error"]
    assert error["code"] == "forbidden" and re.search(r"[\u4e00-\u9fff]", error["message"])


def test_json_routes_answer_json_errors(app):
    anonymous = app.test_client()
    response = anonymous.get(f"/design/{KEY}/draft.json")
    assert response.status_code == 401 and response.json["error"]["message"] == "请先登录"
    assert anonymous.get("/cases/1/diagram.json").status_code == 401
    owner = user(app, "owner1")
    del owner.environ_base["HTTP_X_CSRFTOKEN"]
    response = save(owner)
    assert response.status_code == 400 and "CSRF" in response.json["error"]["message"]
    owner = user(app, "owner1")
    assert owner.get("/design/nope/draft.json").json["error"]["code"] == "not_found"


@pytest.mark.parametrize("data, content_type, field, message", [
    ("not json at all", "text/plain", None, "请求体必须是 JSON 对象"),
    ("[1, 2]", "application/json", None, "请求体必须是 JSON 对象"),
    (json.dumps({"bpmn": 42, "forms": {}}), "application/json", "bpmn", "草稿内容格式不正确"),
    (json.dumps({"bpmn": XML, "forms": ["review"]}), "application/json", "forms", "草稿内容格式不正确"),
    (json.dumps({"bpmn": "<bpmn:definitions", "forms": {}}), "application/json", "bpmn", "不是合法的 XML"),
    (json.dumps({"bpmn": XML.replace('id="vacancy_use"', 'id="other_key"'), "forms": {}}), "application/json",
     "bpmn", "应为「vacancy_use」"),
])
def test_a_malformed_draft_is_refused_in_chinese(app, data, content_type, field, message):
    owner = user(app, "owner1")
    response = owner.put(f"/design/{KEY}/draft.json", data=data, content_type=content_type)
    assert response.status_code == 422
    assert message in response.json["error"]["message"]
    if field:
        assert field in response.json["error"]["fields"]
    with app.app_context():
        assert db.session.scalar(select(ProcessDraft)) is None


def test_validate_names_the_elements_and_an_empty_body_checks_the_saved_draft(app):
    owner = user(app, "owner1")
    broken = XML.replace('name="业务科室">', 'name="财务科">').replace(
        'decision == "reject"</bpmn:conditionExpression>', "__import__('os')</bpmn:conditionExpression>", 1)
    response = owner.post(f"/design/{KEY}/validate", json={"bpmn": broken, "forms": {}})
    assert response.status_code == 200 and response.json["ok"] is False
    findings = response.json["findings"]
    review = next(f for f in findings if f["element"] == "Task_review")
    assert review["name"] == "业务科室初审" and "泳道「财务科」不对应任何角色" in review["message"]
    assert any(f["element"] == "Flow_review_reject" and "条件不被允许" in f["message"] for f in findings)
    assert owner.post(f"/design/{KEY}/validate").json == {"ok": True, "findings": []}
    save(owner, broken)
    saved = owner.post(f"/design/{KEY}/validate", data=b"")
    assert saved.json["ok"] is False and saved.json["findings"] == findings
    admin = user(app, "admin")
    assert admin.post(f"/design/{KEY}/validate").json["ok"] is False


def test_deploy_a_draft_new_cases_take_it_and_an_old_case_finishes_on_its_own(app, api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    old_case = start(clerk)
    owner, admin = user(app, "owner1"), user(app, "admin")
    save(owner, XML.replace('name="分管领导审核"', 'name="分管领导审批（新版）"'))
    response = admin.post(f"/design/{KEY}/deploy", json={})
    assert response.status_code == 422 and response.json["error"]["fields"] == {"comment": ["必填：说明这次改了什么"]}
    response = admin.post(f"/design/{KEY}/deploy", json={"comment": "领导环节改名"})
    assert response.status_code == 201 and response.json == {"key": KEY, "version": 2}
    body = owner.get(f"/design/{KEY}/draft.json").json
    assert (body["is_draft"], body["based_on"], body["updated_by"]) == (False, 2, "系统管理员")
    assert admin.post(f"/design/{KEY}/deploy", json={"comment": "again"}).status_code == 404

    new_case = decide(reviewer, only_task(start(clerk))).json
    assert new_case["version"] == 2 and new_case["tasks"][0]["name"] == "分管领导审批（新版）"
    old_case = decide(reviewer, only_task(old_case)).json
    assert old_case["version"] == 1 and old_case["tasks"][0]["name"] == "分管领导审核"
    old_case = decide(leader, only_task(old_case)).json
    assert old_case["state"] == "approved" and old_case["version"] == 1
    with app.app_context():
        version = newest_version()
        assert (version.comment, version.deployed_by.username) == ("领导环节改名", "admin")
        assert db.session.scalar(select(ProcessDraft)) is None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "process.deploy"))
        assert entry.detail["version"] == 2 and entry.target == f"process:{KEY}"


def test_a_refused_draft_deploys_nothing_and_says_why(app):
    owner, admin = user(app, "owner1"), user(app, "admin")
    save(owner, XML.replace('camunda:formKey="review"', 'camunda:formKey="nope"', 1))
    response = admin.post(f"/design/{KEY}/deploy", json={"comment": "坏的"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_definition"
    assert response.json["findings"] == [{"element": "Task_review", "name": "业务科室初审",
                                          "message": "表单 nope 不存在（forms/nope.json）"}]
    assert response.json["error"]["fields"]["Task_review"] == ["Task_review（业务科室初审）：表单 nope 不存在（forms/nope.json）"]
    with app.app_context():
        assert newest_version().version == 1 and db.session.scalar(select(ProcessDraft)) is not None
        assert "process.deploy" not in audit_actions()


def test_a_form_edited_in_the_browser_is_deployed_with_the_diagram(app):
    owner, admin = user(app, "owner1"), user(app, "admin")
    review = json.loads((ROOT / "forms" / "review.json").read_text(encoding="utf-8"))
    review["components"][1]["label"] = "审核意见（修订）"
    save(owner, XML, {"review": review})
    assert admin.post(f"/design/{KEY}/deploy", json={"comment": "改表单"}).status_code == 201
    with app.app_context():
        forms = processes.version_forms(newest_version())
        assert forms["review"]["components"][1]["label"] == "审核意见（修订）"
        assert set(forms) == {"vacancy_use_apply", "review", "registration", "confirm"}  # the rest from forms/


def test_upload_a_bpmn_file_makes_a_draft_for_a_new_process(app, api):
    owner, admin = user(app, "owner1"), user(app, "admin")
    new = XML.replace('processRef="vacancy_use"', 'processRef="vacancy_use_b"').replace(
        'id="vacancy_use" name="空编使用"', 'id="vacancy_use_b" name="空编使用（试点）"')
    response = form_post(owner, "/design/upload", {"file": (io.BytesIO(new.encode()), "试点.bpmn")},
                         content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("/design/vacancy_use_b")
    body = owner.get("/design/vacancy_use_b/draft.json").json
    assert body["is_draft"] and body["based_on"] is None and body["name"] == "空编使用（试点）"
    assert set(body["forms"]) == {"vacancy_use_apply", "review", "registration", "confirm"}
    assert owner.get("/design/vacancy_use_b").status_code == 200
    assert "空编使用（试点）" in owner.get("/design").get_data(as_text=True)
    response = admin.post("/design/vacancy_use_b/deploy", json={"comment": "试点流程"})
    assert response.status_code == 201 and response.json == {"key": "vacancy_use_b", "version": 1}
    processes_listed = api("clerk1").get("/api/v1/processes").json
    assert {"key": "vacancy_use_b", "name": "空编使用（试点）", "version": 1} in processes_listed
    bad = form_post(owner, "/design/upload", {"file": (io.BytesIO(b"hello"), "x.txt")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "请上传 .bpmn 文件" in bad.get_data(as_text=True)
    clerk = user(app, "clerk1")
    assert form_post(clerk, "/design/upload", {"file": (io.BytesIO(new.encode()), "a.bpmn")},
                     content_type="multipart/form-data").status_code == 403


# --- pages: list, versions with diff, rollback ---------------------------------------------

def deploy_v2(name="科室初审（第二版）"):
    version, created = processes.deploy(XML.replace('name="业务科室初审"', f'name="{name}"'), _forms(),
                                        comment="第二版")
    db.session.commit()
    assert created
    return version


def _forms():
    return {k: json.loads((ROOT / "forms" / f"{k}.json").read_text(encoding="utf-8"))
            for k in ("vacancy_use_apply", "review", "registration", "confirm")}


def test_design_pages_are_for_owners_admins_and_auditors(app):
    for username in ("owner1", "admin", "auditor1"):
        page = user(app, username).get("/design")
        assert page.status_code == 200 and "空编使用" in page.get_data(as_text=True)
    assert "流程设计" in user(app, "owner1").get("/cases").get_data(as_text=True)
    assert "流程设计" not in user(app, "reviewer1").get("/cases").get_data(as_text=True)
    for path in ("/design", f"/design/{KEY}", f"/design/{KEY}/versions", f"/design/{KEY}/migrate"):
        assert user(app, "clerk1").get(path).status_code == 403
    assert user(app, "owner1").get(f"/design/{KEY}/migrate").status_code == 403
    assert user(app, "owner1").get("/design/nope").status_code == 404


def test_versions_page_shows_who_deployed_what_and_a_readable_diff(app):
    with app.app_context():
        deploy_v2()
    page = user(app, "auditor1").get(f"/design/{KEY}/versions").get_data(as_text=True)
    assert "第 2 版" in page and "第二版" in page
    assert "Task_review" in page and "名称：「业务科室初审」 → 「科室初审（第二版）」" in page
    assert "回滚到此版本" not in page  # admin only
    assert "回滚到此版本" in user(app, "admin").get(f"/design/{KEY}/versions").get_data(as_text=True)


def test_rollback_deploys_the_old_content_as_the_newest_version(app, api):
    with app.app_context():
        deploy_v2()
    admin = user(app, "admin")
    response = form_post(admin, f"/design/{KEY}/versions/1/rollback", {"comment": "新名称不合适"})
    assert response.status_code == 302
    with app.app_context():
        v1, v3 = (db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == KEY,
                                                                  ProcessVersion.version == n)) for n in (1, 3))
        assert v3.content_hash == v1.content_hash and v3.bpmn_xml == v1.bpmn_xml
        assert v3.comment == "回滚：重新部署第 1 版的内容（新名称不合适）"
        assert "process.rollback" in audit_actions()
    case = start(api("clerk1"))
    assert case["version"] == 3 and case["tasks"][0]["name"] == "业务科室初审"
    again = form_post(admin, f"/design/{KEY}/versions/3/rollback", follow_redirects=True)
    assert "已是最新版本" in again.get_data(as_text=True)
    assert form_post(user(app, "owner1"), f"/design/{KEY}/versions/1/rollback").status_code == 403
    assert form_post(user(app, "clerk1"), f"/design/{KEY}/versions/1/rollback").status_code == 403


# --- moving running cases ------------------------------------------------------------------

def test_migration_dry_run_then_move_and_a_case_that_cannot_move_stays(app, api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    at_review = start(clerk)
    at_leader = decide(reviewer, only_task(start(clerk, count=1))).json
    with app.app_context():
        # version 2: the leader's step gets a new id (and name): cases standing there cannot move
        version, _ = processes.deploy(XML.replace("Task_leader", "Task_chief").replace(
            'name="分管领导审核"', 'name="主任审批"').replace('name="业务科室初审"', 'name="科室初审"'), _forms(),
            comment="改领导环节")
        db.session.commit()
        review_task_id = db.session.scalar(select(OpenTask.id).where(OpenTask.case_id == at_review["id"]))
    admin = user(app, "admin")
    page = admin.get(f"/design/{KEY}/migrate?from=1").get_data(as_text=True)
    movable = re.search(rf'class="movable" data-case="{at_review["number"]}"', page)
    stays = re.search(rf'class="stays" data-case="{at_leader["number"]}".*?</tr>', page, re.S)
    assert movable and stays and "当前环节「分管领导审核」（Task_leader）在新版本中不存在" in stays.group(0)
    with app.app_context():  # the dry run changed nothing
        assert {c.version.version for c in db.session.scalars(select(Case).where(Case.process_key == KEY))} == {1}

    response = form_post(admin, f"/design/{KEY}/migrate", {"from": "1"}, follow_redirects=True)
    assert "已将 1 件案件迁移到第 2 版；1 件不能迁移" in response.get_data(as_text=True)
    with app.app_context():
        moved, stayed = db.session.get(Case, at_review["id"]), db.session.get(Case, at_leader["id"])
        assert (moved.version.version, stayed.version.version) == (2, 1)
        task = db.session.scalar(select(OpenTask).where(OpenTask.case_id == moved.id))
        assert (task.id, task.name, task.role) == (review_task_id, "科室初审", "reviewer")
        assert audit_actions().count("case.migrate") == 1 and "process.migrate" in audit_actions()
    moved = decide(reviewer, review_task_id).json
    assert moved["version"] == 2 and moved["tasks"][0]["name"] == "主任审批"
    assert decide(leader, only_task(moved)).json["state"] == "approved"
    assert decide(leader, only_task(at_leader)).json["state"] == "approved"  # finished on version 1


def test_a_failed_move_moves_nothing(app, api, monkeypatch):
    clerk = api("clerk1")
    first, second = start(clerk), start(clerk, count=1)
    with app.app_context():
        deploy_v2()
    real, calls = migration.sync_open_tasks, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first case has moved by now; the second fails
            raise Conflict("模拟的故障")
        return real(*args, **kwargs)

    monkeypatch.setattr(migration, "sync_open_tasks", flaky)
    response = form_post(user(app, "admin"), f"/design/{KEY}/migrate", {"from": "1"}, follow_redirects=True)
    assert "模拟的故障" in response.get_data(as_text=True) and len(calls) == 2
    with app.app_context():
        assert [db.session.get(Case, c["id"]).version.version for c in (first, second)] == [1, 1]
        assert "case.migrate" not in audit_actions()


# --- where a case stands ---------------------------------------------------------------------

def test_diagram_json_marks_completed_current_and_the_flows_taken(app, api):
    clerk, reviewer, leader = api("clerk1"), api("reviewer1"), api("leader1")
    case = start(clerk)
    case = decide(reviewer, only_task(case), "return", "请补充材料").json
    task = only_task(case)
    resubmitted = clerk.post(f"/api/v1/tasks/{task}/complete", json={"data": {
        "unit": "12330621B01000000X", "category": "事业编制", "count": 2, "channel": "调任", "reason": "已补充"}})
    case = decide(reviewer, only_task(resubmitted.json)).json
    case = decide(leader, only_task(case)).json  # approved: the unit now registers the people
    body = user(app, "clerk1").get(f"/cases/{case['id']}/diagram.json").json
    assert body["bpmn"] == XML and body["version"] == 1
    assert body["current"] == ["Task_register"]
    assert set(body["completed"]) == {"StartEvent_apply", "Task_apply", "Task_review", "Gateway_review",
                                      "Task_leader", "Gateway_leader", "Service_reserve", "Event_approved"}
    assert set(body["flows"]) == {"Flow_start", "Flow_to_review", "Flow_to_gw_review", "Flow_review_return",
                                  "Flow_review_approve", "Flow_to_gw_leader", "Flow_leader_approve",
                                  "Flow_to_approved", "Flow_to_register"}
    assert user(app, "reviewer1").get(f"/cases/{case['id']}/diagram.json").status_code == 200
    hidden = user(app, "clerk2").get(f"/cases/{case['id']}/diagram.json")
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"


# --- the validate command ----------------------------------------------------------------------

def test_validate_command_prints_one_finding_per_line_and_exits_1_when_refused(app, tmp_path):
    runner = app.test_cli_runner()
    good = tmp_path / "good.bpmn"
    good.write_text(XML, encoding="utf-8")
    result = runner.invoke(args=["validate", str(good)])
    assert (result.exit_code, result.output) == (0, f"{good}: 通过\n")

    bad = tmp_path / "bad.bpmn"
    bad.write_text(XML.replace('camunda:formKey="review"', 'camunda:formKey="nope"', 1)
                   .replace("<bpmn:userTask id=\"Task_confirm\"", "<bpmn:manualTask id=\"Task_manual\" name=\"手工\" />"
                            "<bpmn:userTask id=\"Task_confirm\""), encoding="utf-8")
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions", encoding="utf-8")
    result = runner.invoke(args=["validate", str(good), str(bad), str(broken), str(tmp_path / "missing.bpmn")])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{good}: 通过" in lines
    assert f"{bad}: Task_review（业务科室初审）：表单 nope 不存在（forms/nope.json）" in lines
    assert any(line.startswith(f"{bad}: Task_manual（手工）：手工任务（manualTask）") for line in lines)
    assert any(line.startswith(f"{broken}: definitions：不是合法的 XML") for line in lines)
    assert f"{tmp_path / 'missing.bpmn'}: definitions：文件不存在或不是普通文件" in lines
    assert "Traceback" not in result.output


def test_validate_command_reads_the_decision_table_beside_the_diagram(app, tmp_path):
    runner = app.test_cli_runner()
    (tmp_path / "extra_plan.bpmn").write_text((ROOT / "bpmn" / "extra_plan.bpmn").read_text(encoding="utf-8"))
    result = runner.invoke(args=["validate", str(tmp_path / "extra_plan.bpmn")])
    assert result.exit_code == 1 and "找不到决策表" in result.output
    (tmp_path / "meeting.dmn").write_text((ROOT / "bpmn" / "extra_plan_meeting.dmn").read_text(encoding="utf-8"))
    result = runner.invoke(args=["validate", str(tmp_path / "extra_plan.bpmn"), str(tmp_path / "meeting.dmn")])
    assert result.exit_code == 0 and f"{tmp_path / 'extra_plan.bpmn'}: 通过" in result.output


# --- the sandbox against the known escapes -------------------------------------------------------

ESCAPES = [
    "__import__('os').system('id')",
    "().__class__.__base__.__subclasses__()",
    "10**10**10",
    "getattr(decision, '__class__')",
    '"{0.__class__}".format(decision)',
    '"{0.__init__.__globals__}".format(decision)',
    "decision.format_map({})",
    "[x for x in ().__class__.__mro__]",
    "pow(10, 10**8)",
    "type(decision)",
    "vars()",
    "f'{decision:>999999999}'",
]


@pytest.mark.parametrize("expression", ESCAPES)
def test_escapes_are_refused_at_validation_and_cannot_run(ctx, expression):
    assert sandbox.check(expression) is not None
    with pytest.raises(sandbox.UnsafeExpression):
        sandbox.RestrictedEnvironment().evaluate(expression, {"decision": "approve"})
    xml = XML.replace('decision == "reject"</bpmn:conditionExpression>',
                      f"{expression.replace('<', '&lt;')}</bpmn:conditionExpression>", 1)
    findings, _ = processes.validate(xml, _forms())
    assert [f.element for f in findings] == ["Flow_review_reject"]
    assert findings[0].message.startswith("条件不被允许：")


def with_script(script, element_id, name):
    """vacancy_use with a script task between the start event and the application."""
    task = (f'<bpmn:scriptTask id="{element_id}" name="{name}"><bpmn:script>{script.replace("<", "&lt;")}'
            '</bpmn:script></bpmn:scriptTask>')
    return XML.replace(
        '<bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_apply" targetRef="Task_apply" />',
        f'<bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_apply" targetRef="{element_id}" />'
        f'<bpmn:sequenceFlow id="Flow_script" sourceRef="{element_id}" targetRef="Task_apply" />' + task)


SCRIPT_ESCAPES = [
    "while True: pass",
    "import os",
    "def f():\n    return 1",
    "class A: pass",
    "f = lambda: 1",
    "try:\n    x = 1\nexcept Exception:\n    pass",
    "x = 2 ** count",
]


@pytest.mark.parametrize("script", SCRIPT_ESCAPES)
def test_script_escapes_are_refused_at_validation_and_cannot_run(ctx, script):
    assert sandbox.check(script, is_script=True) is not None
    with pytest.raises(sandbox.UnsafeExpression):
        sandbox.RestrictedEnvironment().execute(script, {"count": 3})
    findings, _ = processes.validate(with_script(script, "Script_bad", "计算"), _forms())
    assert [(f.element, f.name) for f in findings] == [("Script_bad", "计算")]
    assert findings[0].message.startswith("脚本不被允许：")


@pytest.mark.parametrize("code, is_script", [
    ("'a' * 10 ** 8", False),                                   # a gigabyte string
    ("[0] * (count * 100000000)", False),                       # a huge list
    ("'%999999999d' % count", False),                           # a huge format width
    ("1 << 10 ** 8", False),                                    # a huge integer
    ("s = 'ab'\nfor i in range(60):\n    s = s + s", True),      # doubling
    ("n = 0\nfor a in range(999):\n    for b in range(999):\n        n += 1", True),  # a million steps
    ("x = [a * b for a in range(999) for b in range(999)]", True),
])
def test_runtime_bounds_stop_what_validation_cannot_see(code, is_script):
    assert sandbox.check(code, is_script) is None  # compiles: only running shows the size
    env = sandbox.RestrictedEnvironment()
    started = time.monotonic()
    with pytest.raises(sandbox.UnsafeExpression):
        (env.execute if is_script else env.evaluate)(code, {"count": 3})
    assert time.monotonic() - started < sandbox.MAX_SECONDS + 1


def test_bounds_on_length_and_exponent_and_plain_expressions_still_work():
    assert "过长" in sandbox.check("x" * (sandbox.MAX_EXPRESSION + 1))
    assert "过长" in sandbox.check("x = 1\n" * 1000, is_script=True)
    assert "指数不能超过" in sandbox.check("count ** 1000")
    assert sandbox.check("count ** 2 + (count * 3) % 7") is None
    env = sandbox.RestrictedEnvironment()
    assert env.evaluate("sum(l['count'] for l in lines) > 5", {"lines": [{"count": 3}, {"count": 4}]}) is True
    data = {"count": 3}
    env.execute("total = count * 2\nlabel = '共 %d 名' % total\nitems = [i for i in range(count)]", data)
    assert data == {"count": 3, "total": 6, "label": "共 6 名", "items": [0, 1, 2]}


def test_a_running_case_whose_script_misbehaves_stops_with_an_engine_error(ctx):
    xml = with_script("n = 0\nfor a in range(999):\n    for b in range(999):\n        n += 1", "Script_loop", "死循环")
    assert processes.validate(xml, _forms())[0] == []  # nothing to see before it runs
    parsed = adapter.parse(xml)
    started = time.monotonic()
    with pytest.raises(adapter.EngineError) as err:
        adapter.Run.start(parsed, lambda element, data: None)
    assert err.value.element == "Script_loop" and time.monotonic() - started < sandbox.MAX_SECONDS + 1
