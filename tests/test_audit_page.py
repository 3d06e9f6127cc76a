"""The audit log page reads as Chinese: action names beside the codes, details as key：value
lines with real characters, a table that fits the page; the CSV export keeps its columns."""
import ast
import csv
import html
import io
import re
from pathlib import Path

from bianzhi.audit.labels import ACTIONS, action_label, detail_lines
from bianzhi.audit.operations import record
from bianzhi.extensions import db
from tests.conftest import login

PLATFORM = Path(__file__).resolve().parent.parent / "platform" / "bianzhi"
CSS = PLATFORM / "static" / "app.css"
OLD_COLUMNS = ["编号", "时间（北京时间）", "用户", "操作", "对象", "详情", "地址", "哈希"]


def _entry(app):
    with app.app_context():
        record(None, "task.complete", "case:999", ip="10.0.0.1", number="编审〔2026〕9号", step="科室审核",
               decision="approve", files=["申请表.pdf", "说明.docx"])
        db.session.commit()


def _text(page):
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_the_page_shows_chinese_action_names_and_readable_details(app):
    _entry(app)
    page = login(app.test_client(), "auditor1").get("/audit?target=case:999").get_data(as_text=True)
    assert "\\u" not in page
    text = _text(page)
    assert "办理任务" in text and "task.complete" in text  # the name, and the code to search by
    assert 'title="操作代码：task.complete"' in page
    for line in ("编号：编审〔2026〕9号", "环节：科室审核", "意见：同意", "文件：申请表.pdf、说明.docx"):
        assert line in text, line


def test_the_search_still_matches_codes_by_prefix(app):
    _entry(app)
    text = _text(login(app.test_client(), "auditor1").get("/audit?action=task.").get_data(as_text=True))
    assert "环节：科室审核" in text
    assert "环节：科室审核" not in _text(login(app.test_client(), "auditor1")
                                     .get("/audit?action=login").get_data(as_text=True))


def test_the_export_keeps_its_columns_and_adds_the_action_name_last(app):
    _entry(app)
    body = login(app.test_client(), "auditor1").get("/audit/export.csv?target=case:999").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == OLD_COLUMNS + ["操作名称"]
    (row,) = rows[1:]
    assert row[3] == "task.complete" and row[4] == "case:999" and row[6] == "10.0.0.1"
    assert "科室审核" in row[5] and "\\u" not in row[5]
    assert row[8] == "办理任务"


def test_an_unknown_code_and_odd_details_read_as_themselves():
    assert action_label("test.formula") == "test.formula"
    assert detail_lines({"zzz": None, "include_left": False, "filters": {"username": "张三"}, "rows": 3}) == [
        ("zzz", "—"), ("含出编人员", "否"), ("查询条件", "用户名=张三"), ("条数", "3")]


def _written_codes():
    """Every action code the platform writes: the literal second argument of record()/audit(),
    the actions passed to ledger.units.audited() ("unit.<action>"), the statistics exports'
    _send(), and the f-string codes of the query and quality rule views with their choices."""
    codes = set()
    for path in PLATFORM.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        imported = re.search(r"from \.+(audit\.)?operations import record( as audit)?\b", source)
        if path.parent.name == "audit" and path.name != "views.py" or not (imported or "audited(" in source):
            continue  # (the ledger's register changes write through audited(), statistics through _send())
        writer = "audit" if not imported or imported.group(2) else "record"  # "as audit": `record` is another
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            name, args = node.func.id, node.args
            if name == writer and len(args) > 1:
                if isinstance(args[1], ast.Constant):
                    codes.add(args[1].value)
                elif isinstance(args[1], ast.JoinedStr):
                    prefix = args[1].values[0].value
                    choices = {"query.": ("share", "unshare"), "quality.rule_": ("activate", "deactivate"),
                               "unit.": ()}[prefix]  # an unknown f-string code fails here: list it
                    codes.update(prefix + c for c in choices)
            elif name == "audited" and isinstance(args[1], ast.Constant):
                codes.add(f"unit.{args[1].value}")
            elif name == "_send" and len(args) > 2 and isinstance(args[2], ast.Constant):
                codes.add(args[2].value)
    return codes


def test_every_code_the_platform_writes_has_a_chinese_name():
    codes = _written_codes()
    assert {"task.complete", "process.deploy", "unit.merge", "unit.posts", "query.share", "statistics.export",
            "audit.export", "login"} <= codes
    assert sorted(codes - set(ACTIONS)) == []


def test_the_table_fits_the_page():
    """At 1366 px the table kept to the page: fixed layout, the details column wrapping."""
    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"table\.audit\s*\{[^}]*table-layout:\s*fixed", css)
    assert re.search(r"table\.audit td\s*\{[^}]*overflow-wrap:\s*anywhere", css)
