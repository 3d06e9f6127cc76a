"""The vacancy-use → registration journey in a real browser: Debian's Chromium driven by
Playwright against the app served by a real HTTP server in a background thread."""
import re

import pytest

from tests.conftest import PASSWORD
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, live_server, shot
from tests.fixtures.cases import application, person
from tests.fixtures.pages import tiny_pdf

pytestmark = pytest.mark.browser


def test_vacancy_use_journey_in_chromium(app):
    from playwright.sync_api import expect, sync_playwright

    with live_server(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            def login(username):
                context = browser.new_context(base_url=base, locale="zh-CN", viewport={"width": 1280, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                page.goto("/login")
                page.get_by_label("用户名").fill(username)
                page.get_by_label("密码").fill(PASSWORD)
                page.get_by_role("button", name="登录").click()
                expect(page.get_by_role("button", name="退出")).to_be_visible()
                return page

            def decide(page, number, decision, opinion, screenshot):
                page.get_by_role("link", name=re.compile("待办")).click()
                page.wait_for_url(re.compile(r"/inbox$"))
                page.locator("tr", has_text=number).get_by_role("link", name="办理").click()
                page.wait_for_url(re.compile(r"/tasks/"))
                page.get_by_label(decision).check()
                page.get_by_label("审批意见").fill(opinion)
                shot(page, screenshot)
                page.get_by_role("button", name="提交").click()
                page.wait_for_url(re.compile(r"/inbox$"))
                expect(page.get_by_role("alert")).to_contain_text(f"已办理：{number}")

            # clerk1: 一站式服务窗口 → 空编使用 → fill and submit
            clerk = login("clerk1")
            clerk.get_by_role("link", name="一站式服务窗口").click()
            clerk.wait_for_url(re.compile(r"/window$"))
            vacancy = clerk.locator('td.vacancy[data-category="事业编制"]')
            expect(vacancy).to_have_text("7")
            shot(clerk, "journey-01-window")
            clerk.get_by_role("link", name="空编使用").click()
            clerk.wait_for_url(re.compile(r"/window/start/vacancy_use$"))
            applied = application(count=2)  # the shared factory's channel needs no yearly plan
            clerk.get_by_label("编制类型").select_option(applied["category"])
            clerk.get_by_label("使用编制数").fill(str(applied["count"]))
            clerk.get_by_label("补充方式").select_option(applied["channel"])
            clerk.get_by_label("申请理由").fill(applied["reason"])
            clerk.get_by_label(re.compile("^附件")).set_input_files(
                {"name": "申请表.pdf", "mimeType": "application/pdf", "buffer": tiny_pdf()})
            shot(clerk, "journey-02-application")
            clerk.get_by_role("button", name="提交申请").click()
            clerk.wait_for_url(re.compile(r"/cases/\d+$"))
            case_url = clerk.url
            expect(clerk.get_by_role("alert")).to_contain_text("已提交，案件编号 KBSY-")
            number = re.search(r"KBSY-\d{4}-\d{4}", clerk.get_by_role("alert").inner_text()).group(0)
            expect(clerk.locator("h1")).to_have_text(f"案件 {number}")
            expect(clerk.get_by_role("link", name="申请表.pdf")).to_be_visible()
            shot(clerk, "journey-03-submitted")

            # reviewer1 and leader1 approve from their inboxes
            decide(login("reviewer1"), number, "同意", "材料齐全，同意", "journey-04-review")
            decide(login("leader1"), number, "同意", "同意使用", "journey-05-leader")

            # clerk1 registers one of the two people
            clerk.get_by_role("link", name="一站式服务窗口").click()
            clerk.wait_for_url(re.compile(r"/window$"))
            expect(vacancy).to_have_text("5")
            clerk.locator("tr", has_text="落编登记").get_by_role("link", name="办理").click()
            clerk.wait_for_url(re.compile(r"/tasks/"))
            hired = person(1, name="陈一鸣")
            clerk.locator("#f-people-0-name").fill(hired["name"])
            clerk.locator("#f-people-0-id_number").fill(hired["id_number"])
            clerk.locator("#f-people-0-entry_date").fill(hired["entry_date"])
            clerk.locator("#f-people-0-education").select_option(hired["education"])
            shot(clerk, "journey-06-registration")
            clerk.get_by_role("button", name="提交").click()
            clerk.wait_for_url(case_url)
            expect(clerk.locator("p.current")).to_contain_text("落编确认")

            # reviewer1 confirms
            decide(login("reviewer1"), number, "确认落编", "材料齐全，同意落编", "journey-07-confirm")

            clerk.goto(case_url)
            expect(clerk.locator("h2 .state")).to_have_text("已办结")
            expect(vacancy).to_have_text("6")  # one registered, the other reserved place released
            expect(clerk.locator("section", has_text="落编人员")).to_contain_text(hired["name"])
            expect(clerk.get_by_role("link", name=re.compile("PDF"))).to_have_count(2)
            expect(clerk.locator("table.history tbody tr")).to_have_count(5)
            shot(clerk, "journey-final")
        finally:
            browser.close()
