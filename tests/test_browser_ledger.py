"""The ledger-as-a-tool journeys in Debian's Chromium: through the top bar's menus, a reviewer
imports a roster (upload, preview, import by the worker while the page polls its progress) and
runs a combined query; nothing fails in the browser under the CSP."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from bianzhi.extensions import db
from bianzhi.ledger import idnumber
from bianzhi.ledger.models import Person
from bianzhi.worker import Worker
from tests.fixtures.browser import chromium, live_server, login, shot
from tests import test_roster_import as roster_files

A_WOMAN = idnumber.make("330621", date(1992, 3, 8), 124)  # even sequence: a woman
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _women_on_roll(app):
    """On roll in reviewer1's office's jurisdiction (柯桥: the query builder reads no other)."""
    from bianzhi.ledger.models import Unit
    from bianzhi.organisation.models import Office

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Person).join(Unit, Unit.id == Person.unit_id)
                                 .join(Office, Office.id == Unit.office_id)
                                 .where(Person.status == "on_roll", Person.sex == "女", Office.code == "330603"))


@pytest.mark.browser
def test_a_reviewer_imports_a_roster_and_queries_it(app):
    from playwright.sync_api import expect

    with live_server(app) as base, chromium() as browser:
        page = login(browser, base, "reviewer1")
        page.locator("summary", has_text="台账").click()
        page.get_by_role("link", name="花名册导入").click()
        page.locator("#roster-upload input[type=file]").set_input_files(
            {"name": "新进人员.xlsx", "mimeType": XLSX, "buffer": roster_files.book([roster_files.row(姓名="林新芳", 性别="女", 身份证号=A_WOMAN)])})
        page.get_by_role("button", name="上传并校验").click()
        expect(page.locator("#import-summary")).to_contain_text("有效 1 行")
        page.locator("#import-all").click()
        expect(page.locator("#import-progress")).to_contain_text("排队中")
        Worker(app).run_once()  # the worker (another process in production) takes the job
        expect(page.locator("#import-summary")).to_contain_text("已导入 1 人", timeout=10_000)  # the page polled, then reloaded
        shot(page, "roster-import-done")

        page.locator("summary", has_text="查询统计").click()
        page.get_by_role("link", name="组合查询").click()
        page.locator("select[name=f0]").select_option(label="性别")
        page.locator("select[name=o0]").select_option(label="等于")  # the script leaves only a choice's operators
        page.locator("input[name=v0]").fill("女")
        page.get_by_role("button", name="查询").click()
        women = _women_on_roll(app)
        expect(page.locator("#qb-result h2")).to_have_text(re.compile(rf"查询结果：共 {women} 人"))
        shot(page, "query-builder-women")
        assert page.js_errors == []
