"""The audit log page in Debian's Chromium at 1366 px: the table stays within the page, however
long an entry's details, and the search filters sit in one row."""
import pytest

from bianzhi.audit.operations import record
from bianzhi.extensions import db
from tests.fixtures.browser import chromium, live_server, login, shot


@pytest.mark.browser
def test_the_audit_log_fits_a_1366_px_screen(app):
    from playwright.sync_api import expect

    with app.app_context():  # a long detail, as an audit export's filters or a quality check write them
        record(None, "audit.export", None, ip="2001:0db8:85a3:0000:0000:8a2e:0370:7334", rows=12345,
               filters={"username": "auditor1", "action": "task.complete", "target": "case:" + "9" * 60},
               files=["关于调整某某单位内设机构和人员编制的请示及附件材料汇编（第一册）.pdf"] * 4,
               definition="x" * 300)
        db.session.commit()
    with live_server(app) as base, chromium() as browser:
        page = login(browser, base, "auditor1", viewport=(1366, 768))
        page.goto("/audit?action=audit.export")
        expect(page.locator("table.audit td.action").first).to_contain_text("导出审计日志")
        shot(page, "audit-log-1366")
        widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth,
                                          table: document.querySelector('table.audit').getBoundingClientRect().right})""")
        assert widths["page"] <= 1366 and widths["table"] <= 1366, widths
        # the five filters side by side, not a column of narrow fields down the page
        tops = {page.locator(f"#{name}").bounding_box()["y"] for name in ("username", "action", "target", "from", "to")}
        assert len(tops) == 1, tops
        assert not page.js_errors
