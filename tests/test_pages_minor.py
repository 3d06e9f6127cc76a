"""Small page defects: the return reason at the top of the task page, Chinese words instead of
field keys and config names, the favicon, case numbers and badges that stay on one line."""
import re
from pathlib import Path

from bianzhi import clock
from bianzhi.extensions import db
from bianzhi.ledger.operations import chronicle
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.pages import text_of, user_client
from tests.fixtures.people import people_of, unit_of


def test_returned_task_page_shows_the_reason_first(app, api):
    case = start(api("clerk1"), count=1)
    opinion = "请补充主管部门审核意见及编制使用申请表扫描件"
    response = decide(api("reviewer1"), only_task(case), "return", opinion)
    assert response.status_code == 200, response.json
    clerk_task = only_task(response.json)

    page = user_client(app, "clerk1").get(f"/tasks/{clerk_task}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    notice = re.search(r'<section class="card returned-notice" id="returned-notice".*?</section>', body, re.S)
    assert notice, "no return notice on the amend page"
    # above the form (and the holding bar), not at the bottom of the side column
    assert notice.start() < body.index('id="task-form"') and notice.start() < body.index('id="holding"')
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", notice.group(0)))
    today = clock.local_date(clock.now()).isoformat()
    for part in ("退回补正", "退回环节 业务科室初审", "退回人 周建华", f"退回意见 {opinion}", f"退回时间 {today}"):
        assert part in shown, (part, shown)


def test_task_page_not_reached_by_a_return_has_no_notice(app, api):
    case = start(api("clerk1"), count=1)
    page = user_client(app, "reviewer1").get(f"/tasks/{only_task(case)}")
    assert page.status_code == 200 and "returned-notice" not in page.get_data(as_text=True)
    assert "退回意见" not in text_of(page)


def _history_text(response):
    body = response.get_data(as_text=True)
    section = re.search(r"<h2>信息沿革</h2>.*?</section>", body, re.S)
    assert section, "no history section on the person page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section.group(0)))


def test_person_history_shows_chinese_field_names(app, ctx):
    person = people_of()[0]
    # what 落编 and 出编 write (ledger/vacancy.py, ledger/exits.py), and a merge
    chronicle(None, None, unit_of(), "person", person.id, "register", f"{person.name} 落编", before=None,
              after={"name": person.name, "code": person.code, "category": "事业编制", "entry_date": "2026-11-20"})
    chronicle(None, None, unit_of(), "person", person.id, "exit", f"{person.name} 出编",
              before={"status": "on_roll", "vacancy": 7},
              after={"status": "left", "left_date": "2026-12-01", "left_reason": "调出", "exit_late": False,
                     "vacancy": 8})
    chronicle(None, None, unit_of(), "person", person.id, "merge", "并入", before={"unit": "A"}, after={"unit": "B"})
    db.session.flush()

    clerk = user_client(app, "clerk1")
    history = _history_text(clerk.get(f"/people/{person.code}"))
    for raw in ("name：", "code：", "entry_date：", "category：", "status：", "left_date：", "left_reason：",
                "exit_late：", "vacancy：", "unit：", "on_roll", "False"):
        assert raw not in history, (raw, history)
    for shown in (f"姓名：{person.name}", f"人员编码：{person.code}", "编制类型：事业编制", "入编时间：2026-11-20",
                  "人员状态：在编", "人员状态：已出编", "出编时间：2026-12-01", "出编原因：调出", "逾期申报：否",
                  "空编：7", "空编：8", "在编单位：A", "在编单位：B"):
        assert shown in history, (shown, history)


def test_mail_page_says_in_chinese_that_mail_is_not_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")
    page = text_of(user_client(app, "clerk1").get("/notifications"))
    assert "系统未配置邮件服务器，暂不能发送邮件" in page
    assert "MAIL_SERVER" not in page  # a config key means nothing to a unit's clerk
    admin = text_of(user_client(app, "admin").get("/notifications"))
    assert "系统未配置邮件服务器，暂不能发送邮件" in admin and "MAIL_SERVER" in admin  # where to set it
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    assert "系统未配置邮件服务器" not in text_of(user_client(app, "clerk1").get("/notifications"))


def test_favicon_is_linked_and_served_without_login(app):
    anonymous = app.test_client()
    login_page = anonymous.get("/login").get_data(as_text=True)
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', login_page)
    assert link and link.group(1) == "/static/favicon.svg"
    icon = anonymous.get(link.group(1))
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).lstrip().startswith("<svg") and "编" in icon.get_data(as_text=True)
    icon.close()
    ico = anonymous.get("/favicon.ico")  # what browsers ask for on their own: no 404, no login redirect
    assert ico.status_code == 301 and ico.headers["Location"].endswith("/static/favicon.svg")
    signed_in = user_client(app, "clerk1").get("/favicon.ico")
    assert signed_in.status_code == 301 and signed_in.headers["Location"].endswith("/static/favicon.svg")


def _nowrap_selectors():
    """Every selector of the stylesheet that sets white-space: nowrap."""
    css = re.sub(r"/\*.*?\*/", "", (Path(__file__).parents[1] / "platform/bianzhi/static/app.css").read_text(), flags=re.S)
    found = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if re.search(r"white-space:\s*nowrap", body):
            found |= {s.strip() for s in selectors.split(",")}
    return found


def test_case_numbers_and_badges_stay_on_one_line(app, api):
    case = start(api("clerk1"), count=1)
    number = case["number"]
    nowrap = _nowrap_selectors()
    assert {"td.case-number", ".state", ".badge", ".due"} <= nowrap, nowrap
    reviewer = user_client(app, "reviewer1")
    inbox = reviewer.get("/inbox").get_data(as_text=True)
    assert re.search(rf'<td class="case-number"[^>]*>{number}</td>', inbox)  # (and its card label on a phone)
    cases = reviewer.get("/cases").get_data(as_text=True)
    assert re.search(rf'<td class="case-number"[^>]*><a href="/cases/{case["id"]}">{number}</a></td>', cases)
    assert re.search(r'<span class="state running">在审</span>', cases)
    started = user_client(app, "clerk1").get("/inbox/started").get_data(as_text=True)
    assert re.search(rf'<td class="case-number"[^>]*><a href="/cases/{case["id"]}">{number}</a></td>', started)
