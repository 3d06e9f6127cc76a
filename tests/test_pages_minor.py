"""Small page defects: the return reason at the top of the task page, Chinese words instead of
field keys and config names, the favicon, case numbers and badges that stay on one line."""
import re

from bianzhi import clock
from tests.fixtures.cases import decide, only_task, start
from tests.fixtures.pages import text_of, user_client


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
