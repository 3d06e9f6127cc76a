"""流程设计 and the case diagram in a real browser (Debian's Chromium driven by Playwright):
a process owner renames a step in the bpmn-js modeler through the Chinese side panel, follows a
validation finding to its element, relabels a form field in the form-js editor, saves the draft
and validates it; an admin deploys it as a new version. A case page (and its task page) marks
the steps done, the current step and the flows taken on the diagram."""
import json
import re

import pytest
from lxml import etree

from bianzhi.extensions import db
from bianzhi.processes import operations as processes
from tests.fixtures.browser import chromium, live_server, login, shot
from tests.fixtures.cases import decide, only_task, start

NEW_NAME = "业务科室审核（设计器改名）"
NEW_LABEL = "审核意见说明"
COMMENT = "初审环节改名，审批意见改称审核意见说明（浏览器测试）"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


def _element(bpmn_xml, element_id):
    root = etree.fromstring(bpmn_xml.encode())
    return next(el for el in root.iter() if el.get("id") == element_id)


def _properties(element):
    return {p.get("name"): p.get("value") for p in element.iter(f"{{{CAMUNDA}}}property")}


def _pick(page, element_id, **click):
    """Select a diagram element (first clicking blank canvas, so no context pad is in the way)."""
    page.locator("#canvas svg").first.click(position={"x": 4, "y": 4})
    page.locator(f'#canvas g.djs-element[data-element-id="{element_id}"]').click(**click)


def _svg_classes(page, element_id):
    return page.locator(f'#case-diagram g.djs-element[data-element-id="{element_id}"]').first.get_attribute("class")


@pytest.mark.browser
def test_owner_renames_a_step_and_admin_deploys_it(app):
    from playwright.sync_api import expect

    with app.app_context():
        before = processes.latest("vacancy_use").version
        db.session.remove()

    with live_server(app) as base, chromium() as browser:
        # owner1: 流程设计 → 空编使用 → the modeler
        owner = login(browser, base, "owner1", viewport=(1440, 900))
        owner.get_by_role("link", name="流程设计").first.click()
        owner.get_by_role("link", name=re.compile("空编使用")).first.click()
        owner.wait_for_url(re.compile(r"/design/vacancy_use$"))
        task = owner.locator('#canvas g.djs-element[data-element-id="Task_review"]')
        expect(task).to_be_visible()
        expect(owner.locator("#designer h1")).to_contain_text("空编使用")
        expect(owner.locator(".djs-palette")).to_be_visible()
        expect(owner.locator(".bjs-powered-by")).to_be_visible()  # the bpmn.io watermark stays
        expect(owner.locator(".djs-palette").get_by_role("button", name="任务", exact=True)).to_have_count(1)  # Chinese
        shot(owner, "design-01-modeler", full_page=False)

        # the side panel: name, form, deadline and rule of the user task, in Chinese
        task.click()
        panel = owner.locator("#props")
        expect(panel.locator(".props-type")).to_contain_text("用户任务")
        expect(panel.get_by_label("表单")).to_have_value("review")
        expect(panel.get_by_label("办理时限（工作日）")).to_have_value("5")
        panel.get_by_label("名称").fill(NEW_NAME)
        panel.get_by_label("名称").press("Enter")
        expect(task).to_contain_text(NEW_NAME[:4])
        expect(owner.locator("#designer-status")).to_contain_text("有未保存的修改")
        shot(owner, "design-02-side-panel", full_page=False)

        # the other kinds of element show what the platform reads from them
        _pick(owner, "Event_approved")
        expect(panel.get_by_label("结果状态")).to_have_value("approved")
        expect(panel.get_by_label("纸质材料（每行一项）")).to_have_value(re.compile("机构编制管理证"))
        _pick(owner, "Lane_leader", position={"x": 15, "y": 60})
        expect(panel.get_by_label("角色（办理人）")).to_have_value("分管领导")

        # a finding names the element; clicking it selects and highlights the element
        _pick(owner, "Service_reserve")
        expect(panel.get_by_label("台账操作")).to_have_value("reserve_places")
        panel.get_by_label("台账操作").select_option("")
        owner.locator("#canvas svg").first.click(position={"x": 4, "y": 4})
        owner.get_by_role("button", name="校验").click()
        finding = owner.locator("#findings li", has_text="Service_reserve")
        expect(finding).to_contain_text("台账操作")
        finding.click()
        expect(owner.locator('#canvas g.djs-element[data-element-id="Service_reserve"]')).to_have_class(
            re.compile("finding-focus"))
        expect(panel.locator("h2")).to_have_text("预留编制")
        shot(owner, "design-03-finding", full_page=False)
        panel.get_by_label("台账操作").select_option("reserve_places")

        # the form editor: relabel a field of the review form
        owner.get_by_role("tab", name="表单").click()
        owner.get_by_label("编辑表单").select_option("review")
        expect(owner.locator("#form-used-by")).to_contain_text("分管领导审核")
        expect(owner.locator("#form-editor")).to_contain_text("单行文本")  # its palette, in Chinese
        owner.locator("#form-editor .fjs-form-field", has_text="审批意见").last.click()
        owner.locator(".bio-properties-panel-group-header", has_text="常规").click()
        owner.locator(".bio-properties-panel").get_by_label("字段标签").click()
        owner.keyboard.press("Control+A")
        owner.keyboard.type(NEW_LABEL)
        expect(owner.locator("#form-editor .fjs-form-field", has_text=NEW_LABEL).last).to_be_visible()
        shot(owner, "design-04-form-editor", full_page=False)

        # save (diagram and edited form), then validate
        owner.get_by_role("button", name="保存草稿").click()
        expect(owner.locator("#designer-message")).to_contain_text("草稿已保存")
        expect(owner.locator("#designer-status")).to_contain_text("草稿")
        expect(owner.locator("#designer-status")).not_to_contain_text("未保存")
        owner.get_by_role("button", name="校验").click()
        expect(owner.locator("#designer-message")).to_contain_text("校验通过")
        expect(owner.locator("#findings")).to_be_hidden()
        owner.get_by_role("tab", name="流程图").click()
        shot(owner, "design-05-saved-validated", full_page=False)
        assert owner.js_errors == []

        # admin deploys the saved draft with a comment
        admin = login(browser, base, "admin", viewport=(1440, 900))
        admin.goto("/design/vacancy_use")
        expect(admin.locator('#canvas g.djs-element[data-element-id="Task_review"]')).to_contain_text(NEW_NAME[:4])
        expect(admin.get_by_role("button", name="保存草稿")).to_have_count(0)
        admin.get_by_role("button", name="部署").click()
        admin.get_by_label("部署说明").fill(COMMENT)
        shot(admin, "design-06-deploy-dialog", full_page=False)
        admin.get_by_role("button", name="确认部署").click()
        expect(admin.locator("#designer-message")).to_contain_text(f"已部署为第 {before + 1} 版")
        shot(admin, "design-07-deployed", full_page=False)
        assert admin.js_errors == []

    with app.app_context():
        version = processes.latest("vacancy_use")
        assert version.version == before + 1
        assert version.comment == COMMENT
        assert version.deployed_by.username == "admin"
        task = _element(version.bpmn_xml, "Task_review")
        assert task.get("name") == NEW_NAME
        # nothing else the platform reads was lost on the way through the modeler
        assert task.get(f"{{{CAMUNDA}}}formKey") == "review"
        assert _properties(task) == {"deadline_days": "5"}
        assert _properties(_element(version.bpmn_xml, "Event_approved"))["notice"] == "vacancy_use_approval"
        assert _properties(_element(version.bpmn_xml, "Service_reserve")) == {"operation": "reserve_places"}
        review = json.loads(version.forms_json)["review"]
        opinion = next(c for c in review["components"] if c.get("key") == "opinion")
        assert opinion["label"] == NEW_LABEL
        assert opinion["properties"] == {"requiredWhen": "decision:return|reject"}  # kept through form-js
        flow = _element(version.bpmn_xml, "Flow_review_approve")
        assert flow.find(f"{{{BPMN}}}conditionExpression").text.strip() == 'decision == "approve"'
        db.session.remove()


@pytest.mark.browser
def test_owner_sets_who_holds_a_step(app):
    """The side panel shows each user task's holders in Chinese and sets its `assignment`: a
    kind fitting the lane plus its argument; the validator names a user not of the lane."""
    from playwright.sync_api import expect

    from bianzhi.processes.drafts import get_draft

    with live_server(app) as base, chromium() as browser:
        owner = login(browser, base, "owner1", viewport=(1440, 900))
        owner.goto("/design/vacancy_use")
        task = owner.locator('#canvas g.djs-element[data-element-id="Task_review"]')
        expect(task).to_be_visible()
        panel = owner.locator("#props")
        expect(panel.locator(".props-holders")).to_contain_text("业务科室初审：案件单位归口科室（泳道默认）")
        expect(panel.locator(".props-holders")).to_contain_text("填写空编使用申请：申请单位经办人（泳道默认）")

        task.click()
        holders = panel.locator("#prop-assignment-holders")
        expect(holders).to_have_text("办理人：案件单位归口科室（泳道默认）")
        choose = panel.get_by_label("由谁办理")
        expect(choose).to_have_value("")
        assert "上级编办同角色人员（上报审批）（office_above）" in choose.locator("option").all_inner_texts()
        assert "联审部门（department）" not in choose.locator("option").all_inner_texts()  # not in this lane
        choose.select_option("section")  # written out; a section code may follow
        expect(holders).to_have_text("办理人：案件单位归口科室")
        panel.get_by_label("科室代码（可不填）").fill("sy")
        panel.get_by_label("科室代码（可不填）").press("Enter")
        expect(holders).to_have_text("办理人：指定科室：sy")
        choose.select_option("user")
        expect(holders).to_have_text("办理人：请填写用户名")
        panel.get_by_label("用户名").fill("leader1")
        panel.get_by_label("用户名").press("Enter")
        expect(holders).to_have_text("办理人：指定用户：leader1")
        owner.locator("#canvas svg").first.click(position={"x": 4, "y": 4})
        expect(panel.locator(".props-holders")).to_contain_text("业务科室初审：指定用户：leader1")
        owner.get_by_role("button", name="校验").click()
        expect(owner.locator("#findings li", has_text="Task_review")).to_contain_text("（leader1）不是业务科室")

        task.click()
        expect(panel.get_by_label("用户名")).to_have_value("leader1")
        panel.get_by_label("用户名").fill("reviewer2")
        panel.get_by_label("用户名").press("Enter")
        expect(holders).to_have_text("办理人：指定用户：reviewer2")
        shot(owner, "design-10-assignment", full_page=False)
        owner.get_by_role("button", name="保存草稿").click()
        expect(owner.locator("#designer-message")).to_contain_text("草稿已保存")
        owner.get_by_role("button", name="校验").click()
        expect(owner.locator("#designer-message")).to_contain_text("校验通过")
        assert owner.js_errors == []

    with app.app_context():
        draft = get_draft("vacancy_use")
        assert _properties(_element(draft.bpmn_xml, "Task_review")) == {"deadline_days": "5",
                                                                         "assignment": "user:reviewer2"}
        db.session.remove()


@pytest.mark.browser
def test_case_diagram_marks_done_and_current_steps(app, api):
    from playwright.sync_api import expect

    clerk, reviewer = api("clerk1"), api("reviewer1")
    case = start(clerk)
    response = decide(reviewer, only_task(case))  # 业务科室初审 approves: the case waits for the leader
    assert response.status_code == 200, response.json
    case_id = response.json["id"]

    with live_server(app) as base, chromium() as browser:
        page = login(browser, base, "leader1")
        page.goto(f"/cases/{case_id}")
        diagram = page.locator("#case-diagram")
        expect(diagram).to_have_attribute("data-ready", "1")
        expect(page.locator(".diagram-legend")).to_contain_text("正在办理")

        assert "step-current" in _svg_classes(page, "Task_leader")
        for done in ("StartEvent_apply", "Task_apply", "Task_review", "Gateway_review"):
            classes = _svg_classes(page, done)
            assert "step-done" in classes and "step-current" not in classes, (done, classes)
        for untouched in ("Task_register", "Service_reserve", "End_rejected_review"):
            classes = _svg_classes(page, untouched)
            assert "step-done" not in classes and "step-current" not in classes, (untouched, classes)
        for taken in ("Flow_start", "Flow_to_review", "Flow_review_approve"):
            assert "flow-taken" in _svg_classes(page, taken), taken
        assert "flow-taken" not in _svg_classes(page, "Flow_review_reject")
        expect(page.locator(".bjs-powered-by")).to_be_visible()
        diagram.scroll_into_view_if_needed()
        shot(page, "design-08-case-diagram")

        # the task page shows the same diagram beside the form
        page.goto(f"/cases/{case_id}")
        page.locator("p.current").get_by_role("link", name="办理").click()
        page.wait_for_url(re.compile(r"/tasks/"))
        expect(page.locator("#case-diagram")).to_have_attribute("data-ready", "1")
        assert "step-current" in _svg_classes(page, "Task_leader")
        shot(page, "design-09-task-diagram", full_page=False)
        assert page.js_errors == []


def test_vendor_serves_only_the_allow_listed_dist_files(client):
    """/vendor/ serves the published bundles from node_modules for a year, and nothing else."""
    from bianzhi.web.vendor import ALLOWED, vendor_url

    for path in ALLOWED:
        with client.get(f"/vendor/{path}") as response:
            assert response.status_code == 200, path
            assert response.get_data(), path
            cache = response.headers["Cache-Control"]
            assert "immutable" in cache and "max-age=31536000" in cache, cache
    for path in ("bpmn-js/package.json", "bpmn-js/lib/Modeler.js", "../package.json", "%2e%2e/Makefile",
                 "bpmn-js/dist/../package.json", ".package-lock.json", "@bpmn-io/form-js/dist/index.cjs"):
        with client.get(f"/vendor/{path}") as response:
            assert response.status_code == 404, path
    with client.application.test_request_context():
        assert re.search(r"/vendor/bpmn-js/dist/bpmn-modeler\.production\.min\.js\?v=\d+\.\d+\.\d+$",
                         vendor_url("bpmn-js/dist/bpmn-modeler.production.min.js"))
        with pytest.raises(KeyError):
            vendor_url("bpmn-js/package.json")
