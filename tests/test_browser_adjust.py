"""A 行政编制 adjustment going up to the city and back, in a real browser (Debian's Chromium
driven by Playwright): clerk1 applies at the window; 柯桥's reviewer1 and leader1 approve and
leader1 records the 主任办公会's decision; the case goes on to 绍兴市委编办, whose city_reviewer1
(who sees where the case comes from) and city_leader1 approve with the city's 批复文号; clerk1
sees the case approved and the unit's 行政编制 figure changed."""
import re

import pytest

from bianzhi import clock
from tests.fixtures.browser import chromium, live_server, login, shot

pytestmark = pytest.mark.browser

REPLY = "绍市编〔2026〕9号"
MINUTES = "主任办公会纪要〔2026〕15号"


def _open_task(page, number):
    from playwright.sync_api import expect

    page.get_by_role("link", name=re.compile("待办")).first.click()
    page.wait_for_url(re.compile(r"/inbox$"))
    row = page.locator("tr", has_text=number)
    expect(row).to_have_count(1)
    row.get_by_role("link", name="办理").click()
    page.wait_for_url(re.compile(r"/tasks/"))


def _submit(page, number):
    from playwright.sync_api import expect

    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r"/inbox$"))
    expect(page.get_by_role("alert")).to_contain_text(f"已办理：{number}")
    assert page.js_errors == []


def _inbox_lacks(page, number):
    from playwright.sync_api import expect

    page.goto("/inbox")
    expect(page.locator("tr", has_text=number)).to_have_count(0)


def test_an_administrative_adjustment_goes_up_to_the_city_and_back(app):
    from playwright.sync_api import expect

    with live_server(app) as base, chromium() as browser:
        # clerk1 applies for 2 places of 行政编制, which the unit has none of yet
        clerk = login(browser, base, "clerk1")
        clerk.get_by_role("link", name="一站式服务窗口").click()
        clerk.wait_for_url(re.compile(r"/window$"))
        expect(clerk.locator('td.vacancy[data-category="行政编制"]')).to_have_count(0)
        clerk.goto("/window/start/establishment_adjust")
        clerk.get_by_label("编制类型").select_option("行政编制")
        clerk.get_by_label("调整数（增加填正数，核减填负数）").fill("2")
        clerk.get_by_label("调整理由（职责变化、工作量、人员情况）").fill("疾控中心承担卫生监督执法职责，需核定行政编制 2 名")
        clerk.get_by_role("button", name="提交申请").click()
        clerk.wait_for_url(re.compile(r"/cases/\d+$"))
        case_url = clerk.url
        number = re.search(r"BZTZ-\d{4}-\d{4}", clerk.get_by_role("alert").inner_text()).group(0)
        shot(clerk, "adjust-01-applied")

        # 柯桥: 业务科室初审 and 分管领导审核, then the 主任办公会's decision
        for username in ("reviewer1", "leader1"):
            page = login(browser, base, username)
            _open_task(page, number)
            expect(page.locator("#routed")).to_have_text(re.compile("^本环节由机关编制科(分管领导)?办理$"))
            page.get_by_label("同意").check()
            page.get_by_label("审批意见").fill("同意，提交主任办公会" if username == "leader1" else "材料齐全，同意")
            _submit(page, number)
        leader = page
        _open_task(leader, number)
        expect(leader.locator("h1")).to_contain_text("主任办公会研究决定")
        leader.get_by_label("同意").check()
        leader.get_by_label("会议日期").fill(clock.today().isoformat())
        leader.get_by_label("会议纪要编号").fill(MINUTES)
        shot(leader, "adjust-02-meeting")
        _submit(leader, number)
        _inbox_lacks(leader, number)  # the county's part is done: the step is the city's

        # 绍兴市委编办: the city's reviewer, then its leader with the reply's number
        city_reviewer = login(browser, base, "city_reviewer1")
        _open_task(city_reviewer, number)
        expect(city_reviewer.locator("h1")).to_contain_text("上级编办审核")
        expect(city_reviewer.locator("#routed")).to_have_text("本环节由绍兴市委编办办理 · 报送编办：柯桥区委编办（县（区）级）")
        expect(city_reviewer.locator("dl.facts")).to_contain_text("行政编制")
        city_reviewer.get_by_label("同意").check()
        city_reviewer.get_by_label("审批意见").fill("符合行政编制核定条件，同意")
        shot(city_reviewer, "adjust-03-city-review")
        _submit(city_reviewer, number)

        city_leader = login(browser, base, "city_leader1")
        _open_task(city_leader, number)
        expect(city_leader.locator("h1")).to_contain_text("上级编办审批")
        city_leader.get_by_label("批准", exact=True).check()
        city_leader.get_by_label("批复文号").fill(REPLY)
        shot(city_leader, "adjust-04-city-approval")
        _submit(city_leader, number)

        # back at the unit: approved, the figure changed, the city's reply the document
        clerk.goto(case_url)
        expect(clerk.locator("h2 .state")).to_have_text("已核准")
        expect(clerk.locator("table.history")).to_contain_text("上级编办审批")
        expect(clerk.locator("body")).to_contain_text(REPLY)
        clerk.get_by_role("link", name="一站式服务窗口").click()
        clerk.wait_for_url(re.compile(r"/window$"))
        row = clerk.locator("table.figures tr", has_text="行政编制")
        expect(row.locator("td").nth(1)).to_have_text("2")
        expect(clerk.locator('td.vacancy[data-category="行政编制"]')).to_have_text("2")
        shot(clerk, "adjust-05-figure-changed")
        assert clerk.js_errors == []
