"""The vacancy-use → registration journey through the HTML pages (test client, CSRF on),
the return-for-correction loop, and what the pages do with bad input."""
import io
import re

import pytest

from tests.conftest import PASSWORD, csrf_token
from tests.fixtures.cases import CLERK1_UNIT, application, approve_through, decide, only_task, person, start
from tests.fixtures.pages import (apply_form, case_id_from, field_error, only_task_on, pdf_upload, people_form,
                                  post_application, post_task, snapshot, task_links, text_of, tiny_pdf, user_client,
                                  vacancy_shown)

# The channel and reason of the shared factory: recruitment channels (公开招聘, 考录) may need an
# approved yearly plan first, which these page tests do not set up.
CHANNEL, REASON = application()["channel"], application()["reason"]


def test_whole_journey_through_pages(app):
    clerk = user_client(app, "clerk1")

    window = clerk.get("/window")
    assert window.status_code == 200
    text = text_of(window)
    assert "一站式服务窗口 · 绍兴市柯桥区疾病预防控制中心" in text and "空编使用" in text
    assert 'href="/window/start/vacancy_use"' in window.get_data(as_text=True)
    assert "事业编制 40 33 0 7 绿灯" in text  # approved, on roll, reserved, vacancy, warning
    assert vacancy_shown(window) == 7

    form_page = clerk.get("/window/start/vacancy_use")
    assert form_page.status_code == 200
    page = form_page.get_data(as_text=True)
    assert "空编使用 · 填写空编使用申请" in text_of(form_page)
    assert f'value="{CLERK1_UNIT}" readonly' in page and 'type="file" name="attachments"' in page

    pdf = tiny_pdf("vacancy application")
    response = post_application(clerk, attachments=pdf_upload("申请表.pdf", pdf))
    case_id = case_id_from(response)
    case_page = clerk.get(f"/cases/{case_id}")
    text = text_of(case_page)
    number = re.search(r"KBSY-\d{4}-\d{4}", text).group(0)
    assert number.endswith("-0001")
    assert f"已提交，案件编号 {number}" in text and "在审" in text
    assert "当前环节：业务科室初审（业务科室）" in text

    # 业务科室初审
    reviewer = user_client(app, "reviewer1")
    inbox = reviewer.get("/inbox")
    assert number in text_of(inbox) and "业务科室初审" in text_of(inbox)
    review_task = only_task_on(inbox)
    task_page = reviewer.get(f"/tasks/{review_task}")
    assert task_page.status_code == 200
    text, page = text_of(task_page), task_page.get_data(as_text=True)
    for shown in ("编制类型 事业编制", "使用编制数 2", f"补充方式 {CHANNEL}", f"申请理由 {REASON}",
                  "绍兴市柯桥区疾病预防控制中心 编制情况", "事业编制 40 33 0 7 绿灯",
                  "填写空编使用申请 钱晓峰 提交"):
        assert shown in text, shown
    attachment = re.search(r'href="(/attachments/\d+)">申请表\.pdf</a>', page)
    assert attachment, "no attachment link on the task page"
    assert vacancy_shown(task_page) == 7
    response = post_task(reviewer, review_task, {"decision": "approve", "opinion": "材料齐全，同意"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    inbox = reviewer.get("/inbox")
    assert f"已办理：{number} 业务科室初审" in text_of(inbox)  # the flash
    assert task_links(inbox) == [] and "暂无待办" in text_of(inbox)

    # 分管领导审核
    leader = user_client(app, "leader1")
    leader_task = only_task_on(leader.get("/inbox"))
    assert "业务科室初审 周建华 同意 材料齐全，同意" in text_of(leader.get(f"/tasks/{leader_task}"))
    response = post_task(leader, leader_task, {"decision": "approve", "opinion": "同意使用"})
    assert response.status_code == 302

    window = clerk.get("/window")
    assert vacancy_shown(window) == 5
    assert "事业编制 40 33 2 5 绿灯" in text_of(window)
    text = text_of(window)
    assert f"{number} 空编使用（事业编制 2 名） 落编登记" in text
    register_task = only_task_on(window)

    # 落编登记: the page offers one row per reserved place
    register_page = clerk.get(f"/tasks/{register_task}")
    page = register_page.get_data(as_text=True)
    assert 'name="people-0-name"' in page and 'name="people-1-name"' in page and 'name="people-2-name"' not in page
    # the first row is required; further rows may be left blank (a browser must let the form go)
    for field in ("name", "id_number", "entry_date"):
        assert re.search(rf'<input id="f-people-0-{field}"[^>]*\brequired\b', page), field
        assert re.search(rf'<input id="f-people-1-{field}"[^>]*>', page), field
        assert not re.search(rf'<input id="f-people-1-{field}"[^>]*\brequired\b', page), field
    first, second = person(1, name="陈一鸣"), person(2, name="林可欣", education="研究生")
    response = post_task(clerk, register_task, people_form(
        {k: first[k] for k in ("name", "id_number", "entry_date", "education")},
        {k: second[k] for k in ("name", "id_number", "entry_date", "education")}))
    assert case_id_from(response) == case_id

    # 落编确认
    confirm_task = only_task_on(reviewer.get("/inbox"))
    confirm_page = text_of(reviewer.get(f"/tasks/{confirm_task}"))
    assert "落编确认" in confirm_page and "落编登记 钱晓峰 提交" in confirm_page
    response = post_task(reviewer, confirm_task, {"decision": "approve", "opinion": "材料齐全，同意落编"})
    assert response.status_code == 302

    case_page = clerk.get(f"/cases/{case_id}")
    text, page = text_of(case_page), case_page.get_data(as_text=True)
    assert f"{number} · 空编使用（事业编制 2 名） 已办结" in text
    assert "当前环节" not in text
    assert "陈一鸣" in text and "林可欣" in text and "落编人员" in text
    notices = re.findall(r'href="(/notices/\d+\.pdf)">([^<]+)</a>', page)
    assert [title for _, title in notices] == ["空编使用审核表（PDF）", "落编登记表（PDF）"]
    history = re.findall(r'<tr class="d-(\w+)"><td[^>]*>([^<]+)</td>', page)
    assert history == [("submit", "填写空编使用申请"), ("approve", "业务科室初审"), ("approve", "分管领导审核"),
                       ("submit", "落编登记"), ("approve", "落编确认")]
    window = clerk.get("/window")
    assert "事业编制 40 35 0 5 绿灯" in text_of(window)
    assert task_links(window) == []

    download = clerk.get(attachment.group(1))
    assert download.status_code == 200 and download.data == pdf
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    notice = clerk.get(notices[1][0])
    assert notice.status_code == 200 and notice.data.startswith(b"%PDF-")


def test_return_without_opinion_is_refused_and_keeps_values(app, api):
    clerk = user_client(app, "clerk1")
    case_id = case_id_from(post_application(clerk, count=1, channel="选调", reason="先申请 1 名"))
    reviewer = user_client(app, "reviewer1")
    task = only_task_on(reviewer.get("/inbox"))
    before = snapshot(app)

    response = post_task(reviewer, task, {"decision": "return"})
    assert response.status_code == 422 and field_error(response, "opinion") == "审批意见为必填项"
    response = post_task(reviewer, task, {"decision": "return", "opinion": "   "})
    assert response.status_code == 422
    assert field_error(response, "opinion") == "审批意见为必填项"
    page, text = response.get_data(as_text=True), text_of(response)
    assert "表单填写有误，请按提示修改" in text and "审批意见为必填项" in text
    assert re.search(r'<input type="radio" name="decision" value="return"\s+checked', page)
    assert not re.search(r'<input type="radio" name="decision" value="approve"\s+checked', page)
    assert "使用编制数 1" in text and "补充方式 选调" in text  # the case is still shown beside the form
    assert snapshot(app) == before
    assert task_links(reviewer.get("/inbox")) == [task]

    # the form keeps what the clerk typed too when the application is refused
    response = post_application(clerk, count=3, channel="人才引进", reason="保留我写的理由",
                                category="行政编制")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<option value="行政编制" selected>' in page and '<option value="人才引进" selected>' in page
    assert 'name="count" value="3"' in page and ">保留我写的理由</textarea>" in page

    response = post_task(reviewer, task, {"decision": "return", "opinion": "请补充编制使用申请表扫描件"})
    assert response.status_code == 302
    assert task_links(reviewer.get("/inbox")) == []
    case_page = text_of(clerk.get(f"/cases/{case_id}"))
    assert "当前环节：填写空编使用申请（单位经办人）" in case_page
    assert "业务科室初审 周建华 退回补正 请补充编制使用申请表扫描件" in case_page

    window = clerk.get("/window")
    assert "填写空编使用申请" in text_of(window)
    apply_task = only_task_on(window)
    page = clerk.get(f"/tasks/{apply_task}").get_data(as_text=True)
    assert 'name="count" value="1"' in page and '<option value="选调" selected>' in page  # prefilled
    response = post_task(clerk, apply_task, {"unit": CLERK1_UNIT, "category": "事业编制", "count": "2",
                                             "channel": "调任", "reason": "已补充申请表扫描件",
                                             "attachments": pdf_upload("补充材料.pdf")})
    assert case_id_from(response) == case_id

    case_page = clerk.get(f"/cases/{case_id}")
    text = text_of(case_page)
    assert "使用编制数 2" in text and "补充方式 调任" in text and "已补充申请表扫描件" in text
    assert "空编使用（事业编制 2 名）" in text and "补充材料.pdf" in text
    assert "当前环节：业务科室初审（业务科室）" in text
    assert re.findall(r'<tr class="d-(\w+)">', case_page.get_data(as_text=True)) == ["submit", "return", "submit"]
    assert len(task_links(reviewer.get("/inbox"))) == 1
    case = api("clerk1").get(f"/api/v1/cases/{case_id}").json
    assert case["data"]["count"] == 2 and case["data"]["channel"] == "调任"


VACANCY_MESSAGE = ("绍兴市柯桥区疾病预防控制中心事业编制空编不足：核定 40 名，在编 33 名，已预留 0 名，空编 7 名，"
                   "本次申请 8 名")


@pytest.mark.parametrize(("overrides", "field", "message", "flash"), [
    ({"count": "0"}, "count", "应在 1 到 200 之间", "表单填写有误，请按提示修改"),
    ({"count": "8"}, "count", VACANCY_MESSAGE, VACANCY_MESSAGE),
    ({"count": "两名"}, "count", "应为整数", "表单填写有误，请按提示修改"),
    ({"reason": "  "}, "reason", "必填", "表单填写有误，请按提示修改"),
    ({"channel": "抽签"}, "channel", "请选择有效的选项：公开招聘、考录、调任、选调、人才引进、军转安置、政策性安置",
     "表单填写有误，请按提示修改"),
    ({"category": "行政编制"}, "category", "本单位没有核定行政编制", "绍兴市柯桥区疾病预防控制中心没有核定行政编制"),
], ids=["count-zero", "count-above-vacancy", "count-not-a-number", "reason-blank", "channel-unknown",
        "category-not-held"])
def test_bad_applications_are_refused_with_a_message(app, overrides, field, message, flash):
    clerk = user_client(app, "clerk1")
    before = snapshot(app)
    response = post_application(clerk, **overrides)
    assert response.status_code == 422
    assert field_error(response, field) == message
    page = response.get_data(as_text=True)
    assert re.search(rf'<div class="flash error" role="alert">{re.escape(flash)}</div>', page)
    assert [k for k in ("unit", "category", "count", "channel", "reason") if field_error(response, k)] == [field]
    assert snapshot(app) == before


def test_the_unit_comes_from_the_login_not_from_the_post(app):
    clerk = user_client(app, "clerk1")
    before = snapshot(app)
    case_id = case_id_from(post_application(clerk, unit="12330621B02000000X"))
    assert f"绍兴市柯桥区疾病预防控制中心（{CLERK1_UNIT}）" in text_of(clerk.get(f"/cases/{case_id}"))
    assert snapshot(app)["Case"] == before["Case"] + 1
    assert user_client(app, "clerk2").get(f"/cases/{case_id}").status_code == 404


@pytest.mark.parametrize(("upload", "message"), [
    (("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00"), "附件「setup.exe」的类型不允许"),
    (("申请表.pdf", b"PK\x03\x04 this is a zip, not a PDF"), "附件「申请表.pdf」的内容与扩展名不符"),
    (("空文件.pdf", b""), "附件「空文件.pdf」是空文件"),
], ids=["exe", "fake-pdf", "empty"])
def test_bad_uploads_are_refused_and_nothing_is_written(app, upload, message):
    clerk = user_client(app, "clerk1")
    before = snapshot(app)
    name, content = upload
    response = post_application(clerk, attachments=[pdf_upload("好的.pdf"), (io.BytesIO(content), name)])
    assert response.status_code == 422
    assert message in text_of(response)
    assert field_error(response, "attachments").startswith(f"「{name}」")
    assert snapshot(app) == before


def test_upload_above_the_size_limit_is_refused(app):
    clerk = user_client(app, "clerk1")
    before = snapshot(app)
    saved = app.config["UPLOAD_MAX_BYTES"]
    app.config["UPLOAD_MAX_BYTES"] = 2048
    try:
        big = tiny_pdf() + b"%" + b"x" * 2048 + b"\n"
        response = post_application(clerk, attachments=pdf_upload("扫描件.pdf", big))
        assert response.status_code == 422
        assert "附件「扫描件.pdf」超过 2 KB" in text_of(response)
        assert field_error(response, "attachments") == "「扫描件.pdf」超过大小上限 2 KB"
        assert snapshot(app) == before
        response = post_application(clerk, attachments=pdf_upload("扫描件.pdf", tiny_pdf()))  # under the limit
        case_id_from(response)
    finally:
        app.config["UPLOAD_MAX_BYTES"] = saved
    assert snapshot(app)["Attachment"] == before["Attachment"] + 1


def test_post_without_csrf_token_is_refused(app):
    clerk = user_client(app, "clerk1")
    before = snapshot(app)
    data = apply_form(clerk)
    del data["csrf_token"]
    response = clerk.post("/window/start/vacancy_use", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "页面已过期或表单校验失败（CSRF），请刷新后重试" in text_of(response)
    response = clerk.post("/window/start/vacancy_use", data={**data, "csrf_token": "forged"},
                          content_type="multipart/form-data")
    assert response.status_code == 400 and "CSRF" in text_of(response)
    assert snapshot(app) == before

    reviewer = user_client(app, "reviewer1")
    case_id_from(post_application(clerk))
    task = only_task_on(reviewer.get("/inbox"))
    response = reviewer.post(f"/tasks/{task}", data={"decision": "approve", "opinion": "同意"})
    assert response.status_code == 400 and "CSRF" in text_of(response)
    assert task_links(reviewer.get("/inbox")) == [task]


def test_login_with_wrong_password(app):
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "clerk1", "password": PASSWORD + "x", "csrf_token": token})
    assert response.status_code == 401
    assert "用户名或密码错误" in text_of(response)
    assert client.get("/window").status_code == 302  # still not logged in
    response = client.post("/login", data={"username": "nobody", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401 and "用户名或密码错误" in text_of(response)
    response = client.post("/login", data={"username": "clerk1", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and client.get("/window").status_code == 200


def test_pages_refuse_other_units_and_other_lanes(app, api):
    clerk1 = user_client(app, "clerk1")
    case_id = case_id_from(post_application(clerk1, attachments=pdf_upload()))
    reviewer = user_client(app, "reviewer1")
    review_task = only_task_on(reviewer.get("/inbox"))
    attachment = re.search(r'href="(/attachments/\d+)"', clerk1.get(f"/cases/{case_id}").get_data(as_text=True))
    assert clerk1.get(attachment.group(1)).status_code == 200

    clerk2 = user_client(app, "clerk2")
    response = clerk2.get(f"/cases/{case_id}")
    assert response.status_code == 404 and "案件不存在或无权查看" in text_of(response)
    assert clerk2.get(attachment.group(1)).status_code == 404
    assert clerk2.get(f"/tasks/{review_task}").status_code in (403, 404)
    assert clerk1.get(f"/tasks/{review_task}").status_code == 403  # a clerk cannot review

    # the unit lane: 落编登记 belongs to clerk1's unit only
    case = approve_through(api("reviewer1"), api("leader1"), api("clerk1").get(f"/api/v1/cases/{case_id}").json)
    register_task = only_task(case)
    assert clerk1.get(f"/tasks/{register_task}").status_code == 200
    response = clerk2.get(f"/tasks/{register_task}")
    assert response.status_code == 404 and "案件不存在或无权查看" in text_of(response)
    before = snapshot(app)
    token = csrf_token(clerk2, "/window")
    response = clerk2.post(f"/tasks/{register_task}", data={"csrf_token": token, **people_form(person(1))})
    assert response.status_code == 404
    response = reviewer.get(f"/tasks/{register_task}")
    assert response.status_code == 403 and "此任务由单位经办人办理，您无权办理" in text_of(response)
    token = csrf_token(reviewer, "/inbox")
    response = reviewer.post(f"/tasks/{register_task}", data={"csrf_token": token, **people_form(person(1))})
    assert response.status_code == 403
    assert snapshot(app) == before


def test_reviewer_cannot_act_on_a_returned_application(app, api):
    clerk = api("clerk1")
    case = start(clerk, count=1)
    response = decide(api("reviewer1"), only_task(case), "return", "请补充材料")
    apply_task = only_task(response.json)
    reviewer = user_client(app, "reviewer1")
    response = reviewer.get(f"/tasks/{apply_task}")
    assert response.status_code == 403 and "此任务由单位经办人办理，您无权办理" in text_of(response)
    assert user_client(app, "clerk2").get(f"/tasks/{apply_task}").status_code == 404
    assert user_client(app, "clerk1").get(f"/tasks/{apply_task}").status_code == 200
