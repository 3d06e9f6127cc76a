"""A chronicle entry's before → after as the unit pages show it."""
from datetime import date

from bianzhi.ledger.changes import change_lines


def test_only_changed_fields_in_chinese_with_numbers_kept_as_numbers():
    before = {"vacancy": 1, "reserved": 0, "status": "active", "name": "档案馆", "on_roll": 10}
    after = {"vacancy": 0, "reserved": 1, "status": "abolished", "name": "档案馆", "used": True,
             "entry_date": date(2026, 11, 27), "posts": ["辅助", "转运"], "parent": None}
    assert change_lines(before, after) == [
        ("空编", "1", "0"), ("预留", "0", "1"), ("状态", "存续", "已撤销"), ("在编", "10", "无"),
        ("已使用", "无", "是"), ("入编时间", "无", "2026-11-27"), ("岗位", "无", "辅助、转运")]
    assert change_lines(None, {"count": 2}) == [("数量", "无", "2")]
    assert change_lines({"odd_key": 1}, {"odd_key": 2}) == [("odd_key", "1", "2")]
