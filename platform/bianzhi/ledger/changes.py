"""A chronicle entry's before → after in words a bureau reads: Chinese field names, only the
fields that changed, 无 for empty (the pages of units and documents show it)."""
from datetime import date

LABELS = {
    "approved": "核定数", "on_roll": "在编", "reserved": "预留", "vacancy": "空编", "used": "已使用",
    "count": "数量", "filled": "已配", "plan_left": "计划余额", "category": "编制类型", "name": "名称",
    "code": "编码", "status": "状态", "parent": "上级单位", "merged_into": "并入单位", "unit": "单位",
    "kind": "类别", "level": "级别", "funding": "经费形式", "posts": "岗位", "post": "职务",
    "person": "人员", "people": "人员", "department": "内设机构", "midlevel_post": "中层职务",
    "entry_date": "入编时间", "start_date": "起始日期", "end_date": "截止日期", "id_number": "身份证号",
    "functions": "主要职责", "document": "批准文件",
}
VALUES = {"active": "存续", "abolished": "已撤销", "closed": "已关闭", "on_roll": "在编", "left": "出编",
          "midlevel": "中层职数", "leadership": "领导职数"}


def _text(value):
    if value is None or value == "":
        return "无"
    if isinstance(value, bool):  # before the lookup: 1 == True and 0 == False as dict keys
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "、".join(_text(v) for v in value) or "无"
    if isinstance(value, dict):
        return "，".join(f"{LABELS.get(k, k)} {_text(v)}" for k, v in value.items())
    if isinstance(value, str):
        return VALUES.get(value, value)
    return str(value)


def change_lines(before, after):
    """[(label, old, new)] for every field that differs between `before` and `after`."""
    before, after = before or {}, after or {}
    lines = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key), after.get(key)
        if old != new:
            lines.append((LABELS.get(key, key), _text(old), _text(new)))
    return lines
