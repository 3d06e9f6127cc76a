"""Notifications: the bell with its unread count, the page, the API, the unit told of returns and
decisions, and e-mail copies through SMTP (a local aiosmtpd server started by the test)."""
import re
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from bianzhi.accounts.models import User
from bianzhi.extensions import db
from bianzhi.notifications import operations as notifications
from tests.conftest import csrf_token
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.inbox import at, beijing, jobs, notes, read, run_worker, user_id
from tests.fixtures.pages import text_of, user_client


def bell(page):
    match = re.search(r'id="nav-bell"[^>]*>(?:<svg.*?</svg>)?通知(?:<span class="badge">(\d+)</span>)?</a>',
                      page.get_data(as_text=True))
    assert match, "no bell in the navigation"
    return int(match.group(1) or 0)


def test_the_bell_counts_unread_and_the_page_marks_them_read(app, api):
    case = start(api("clerk1"))
    api("clerk1").post(f"/api/v1/cases/{case['id']}/urge", json={"note": "请尽快"})
    client = user_client(app, "reviewer1")
    page = client.get("/notifications")
    assert bell(page) == 1 and "1 条未读" in text_of(page)
    assert f"催办 催办：钱晓峰催办「{case['number']} 业务科室初审」" in text_of(page) and "请尽快" in text_of(page)
    notification = re.search(r'action="/notifications/(\d+)/open"', page.get_data(as_text=True)).group(1)
    token = csrf_token(client, "/notifications")
    opened = client.post(f"/notifications/{notification}/open", data={"csrf_token": token})
    assert opened.status_code == 302 and opened.headers["Location"] == f"/tasks/{only_task(case)}"
    assert bell(client.get("/inbox")) == 0
    assert client.post(f"/notifications/{notification}/open", data={}).status_code == 400  # CSRF
    # someone else's notification is not found
    other = user_client(app, "reviewer2")
    assert other.post(f"/notifications/{notification}/open",
                      data={"csrf_token": csrf_token(other, "/notifications")}).status_code == 404
    assert bell(other.get("/notifications")) == 1
    other.post("/notifications/read-all", data={"csrf_token": csrf_token(other, "/notifications")})
    assert bell(other.get("/notifications")) == 0


def test_notifications_over_the_api(app, api):
    case = start(api("clerk1"))
    api("clerk1").post(f"/api/v1/cases/{case['id']}/urge")
    reviewer = api("reviewer1")
    listed = reviewer.get("/api/v1/notifications")
    assert listed.status_code == 200 and listed.headers["X-Unread-Count"] == "1"
    item = listed.json[0]
    assert (item["kind"], item["case_id"], item["read"], item["link"]) == ("urge", case["id"], False,
                                                                          f"/tasks/{only_task(case)}")
    assert item["created_at"].endswith("+00:00")
    assert reviewer.post("/api/v1/notifications/read", json={"id": item["id"]}).json == {"marked": 1}
    assert reviewer.get("/api/v1/notifications?unread=1").json == []
    assert api("reviewer2").post("/api/v1/notifications/read", json={"id": item["id"]}).status_code == 404
    assert reviewer.get("/api/v1/notifications?before=x").status_code == 422


def test_the_unit_hears_of_a_return_and_of_the_end(app, api):
    case = start(api("clerk1"))
    decide(api("reviewer1"), only_task(case), "return", "请补充主管部门意见")
    assert notes(app, "clerk1") == [("case", f"待办理：「{case['number']}」填写空编使用申请（业务科室初审：退回补正，请补充主管部门意见）")]
    other = start(api("clerk1"))
    decide(api("reviewer1"), only_task(other), "reject", "不符合条件")
    assert notes(app, "clerk1")[-1] == ("case", f"案件已办结：「{other['number']}」不予通过")
    assert notes(app, "reviewer1") == []  # who acted is not told of their own act


class Inbox:
    """An SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app, monkeypatch):
    port = free_port()
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_FROM", "编办审批平台 <noreply@bianzhi.test>")
    yield handler
    controller.stop()


def set_address(app, username, email):
    client = user_client(app, username)
    response = client.post("/notifications/email", data={"csrf_token": csrf_token(client, "/notifications"),
                                                          "email": email, "enabled": "on"})
    assert response.status_code == 302
    return text_of(client.get("/notifications"))


def test_notifications_are_mailed_through_smtp(app, api, smtp):
    assert "通知将同时发送到 zhou@bianzhi.test" in set_address(app, "reviewer1", "zhou@bianzhi.test")
    assert "电子邮箱地址格式不正确" in set_address(app, "reviewer2", "not an address")
    with at(beijing(2024, 10, 9)):
        case = start(api("clerk1"))
        api("clerk1").post(f"/api/v1/cases/{case['id']}/urge", json={"note": "人员急需到岗"})
    mail = jobs(app, "mail")
    assert [(j.status, j.payload["to"]) for j in mail] == [("pending", "zhou@bianzhi.test")]  # reviewer2 has none
    assert smtp.messages == []  # sent by the worker, never inside the request
    assert run_worker(app, beijing(2024, 10, 9, 10, 1)) == 1
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["zhou@bianzhi.test"]
    assert message["Subject"] == f"【编制业务审批平台】催办：钱晓峰催办「{case['number']} 业务科室初审」，办理期限 2024-10-15"
    body = message.get_content()
    assert "人员急需到岗" in body and f"/tasks/{only_task(case)}" in body
    assert [j.status for j in jobs(app, "mail")] == ["done"]
    assert run_worker(app, beijing(2024, 10, 9, 11)) == 0 and len(smtp.messages) == 1


def test_a_mail_server_that_is_down_is_retried_later(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens there
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    set_address(app, "reviewer1", "zhou@bianzhi.test")
    with at(beijing(2024, 10, 9)):
        case = start(api("clerk1"))
        api("clerk1").post(f"/api/v1/cases/{case['id']}/urge")
    assert run_worker(app, beijing(2024, 10, 9, 10, 1)) == 1
    [job] = jobs(app, "mail")
    assert (job.status, job.attempts) == ("pending", 1) and "ConnectionRefusedError" in job.last_error
    assert job.run_at == beijing(2024, 10, 9, 10, 2)  # one minute later
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=app.config["MAIL_PORT"])
    controller.start()
    try:
        assert run_worker(app, beijing(2024, 10, 9, 10, 3)) == 1
    finally:
        controller.stop()
    assert len(handler.messages) == 1 and [(j.status, j.attempts) for j in jobs(app, "mail")] == [("done", 2)]


def test_no_mail_server_no_mail_jobs(app, api):
    set_address(app, "reviewer1", "zhou@bianzhi.test")
    case = start(api("clerk1"))
    api("clerk1").post(f"/api/v1/cases/{case['id']}/urge")
    assert jobs(app, "mail") == [] and len(notes(app, "reviewer1")) == 1


def test_notify_skips_duplicates_inactive_users_and_the_actor(app):
    def fn():
        users = {u.username: u for u in db.session.query(User).all()}
        users["reviewer2"].active = False
        rows = notifications.notify([users["reviewer1"], users["reviewer1"], users["reviewer2"], users["leader1"]],
                                    "case", "测试", exclude=users["leader1"])
        db.session.commit()
        return [r.user_id for r in rows]
    assert read(app, fn) == [user_id(app, "reviewer1")]
