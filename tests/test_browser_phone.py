"""The everyday pages on a phone (390×844, Debian's Chromium): the window, the inbox (cards, not a
550 px table), a task, the case, notifications and 我发起 fit the screen's width, every button,
field and menu entry is a tap target at least 40 px tall, and a leader approves a case there."""
import re

import pytest

from tests.fixtures.browser import chromium, live_server, login, shot
from tests.fixtures.cases import decide, only_task, start

pytestmark = pytest.mark.browser

PHONE = (390, 844)
MIN_TAP = 40

# what a thumb taps: buttons, fields, the header's menu entries and links styled as buttons
TAP_TARGETS = """() => {
  const sel = 'main button, main a.button, main select, main textarea, main label.radio, main summary, '
    + 'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), '
    + 'header nav > a, header nav summary, header .who a, header .who button';
  return [...document.querySelectorAll(sel)].map(el => {
    const r = el.getBoundingClientRect();
    return {what: el.tagName + ' ' + (el.textContent || el.name || el.id || '').trim().slice(0, 20),
            height: Math.round(r.height), width: Math.round(r.width)};
  }).filter(t => t.width > 0 && t.height > 0);
}"""


def check_fits(page, name):
    """The page scrolls only vertically and every tap target is big enough; a screenshot."""
    shot(page, f"phone-{name}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE[0], (name, width)
    small = [t for t in page.evaluate(TAP_TARGETS) if t["height"] < MIN_TAP]
    assert not small, (name, small)
    header = page.locator("header.top").bounding_box()["height"]
    assert header <= 130, (name, header)  # the desk header wrapped one character a line: ~285 px


def test_a_leader_approves_on_a_phone(app, api):
    from playwright.sync_api import expect

    case = start(api("clerk1"))
    response = decide(api("reviewer1"), only_task(case), opinion="材料齐全，同意")
    assert response.status_code == 200, response.json
    number, case_id = case["number"], case["id"]

    with live_server(app) as base, chromium() as browser:
        clerk = login(browser, base, "clerk1", viewport=PHONE)
        clerk.goto("/window")
        check_fits(clerk, "01-window")

        leader = login(browser, base, "leader1", viewport=PHONE)
        leader.goto("/inbox")
        row = leader.locator("table.inbox tbody tr", has_text=number)
        handle = row.get_by_role("link", name="办理")
        # the inbox is a column of cards: each cell labelled, 办理 on screen
        assert row.bounding_box()["width"] <= PHONE[0]
        box = handle.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0], box
        assert "事项" in leader.evaluate(
            "el => getComputedStyle(el, '::before').content", row.locator("td").nth(2).element_handle())
        check_fits(leader, "02-inbox")

        handle.click()
        leader.wait_for_url(re.compile(r"/tasks/[^/]+$"))
        leader.get_by_label("同意").check()
        leader.get_by_label("审批意见").fill("同意使用，请按程序办理")
        check_fits(leader, "03-task")
        form = leader.locator("#task-form").bounding_box()
        assert form["x"] >= 0 and form["x"] + form["width"] <= PHONE[0], form
        leader.get_by_role("button", name="提交").click()
        leader.wait_for_url(re.compile(r"/inbox$"))
        expect(leader.get_by_role("alert")).to_contain_text(f"已办理：{number}")
        check_fits(leader, "04-inbox-after")

        leader.goto(f"/cases/{case_id}")
        history = leader.locator("table.history")
        expect(history).to_contain_text("同意使用，请按程序办理")
        check_fits(leader, "05-case")

        leader.goto("/inbox/done")
        expect(leader.locator("table.cards tbody tr", has_text=number)).to_contain_text("同意使用，请按程序办理")
        check_fits(leader, "06-done")

        leader.goto("/notifications")
        check_fits(leader, "06-notifications-leader")

        # the clerk's forms too: a new application and the registration of the approved people
        clerk.goto("/window/start/vacancy_use")
        check_fits(clerk, "07-start")
        clerk.goto("/window")
        clerk.locator("tr", has_text="落编登记").get_by_role("link", name="办理").click()
        clerk.wait_for_url(re.compile(r"/tasks/[^/]+$"))
        check_fits(clerk, "08-registration")

        clerk.locator("header summary", has_text="办件").click()  # the menu opens over the page, not clipped by the strip
        clerk.get_by_role("link", name="我发起").click()
        clerk.wait_for_url(re.compile(r"/inbox/started$"))
        expect(clerk.locator("main")).to_contain_text(number)
        check_fits(clerk, "09-started")
        clerk.goto("/notifications")
        check_fits(clerk, "10-clerk-notifications")
        assert not leader.js_errors and not clerk.js_errors
