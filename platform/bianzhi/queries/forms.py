"""The query builder's HTML form <-> a definition. The form works without JavaScript: rows of
field (f<i>), operator (o<i>), value (v<i>, and w<i> for the end of a range) and group (g<i>:
blank = top level, 1–3 = a nested group). `op` combines the top level, `gop<n>` group n.
A JSON definition typed into `definition` (advanced, any depth) takes precedence."""
import json
import re

from ..errors import ValidationFailed
from ..security import loads_json

MAX_ROWS = 30
GROUPS = ("1", "2", "3")
_ROW = re.compile(r"^f(\d{1,2})$")


def definition_from_args(args):
    """(target, definition) from the builder's query string or form post."""
    target = args.get("target") or "person"
    text = (args.get("definition") or "").strip()
    if text:
        try:
            return target, loads_json(text)
        except ValueError:
            raise ValidationFailed("JSON 查询定义格式不正确", fields={"definition": ["不是有效的 JSON"]}) from None
    top = {"op": args.get("op") or "and", "items": []}
    groups = {}
    indexes = sorted(int(m.group(1)) for m in map(_ROW.match, args) if m)
    for i in indexes[:MAX_ROWS + 1]:
        key = (args.get(f"f{i}") or "").strip()
        if not key:
            continue  # a blank row
        op = args.get(f"o{i}") or "eq"
        value = args.get(f"v{i}")
        if op == "between":
            value = [value or "", args.get(f"w{i}") or ""]
        elif op in ("empty", "not_empty"):
            value = None
        condition = {"field": key, "op": op, "value": value}
        group = args.get(f"g{i}") or ""
        if group in GROUPS:
            if group not in groups:
                groups[group] = {"op": args.get(f"gop{group}") or "or", "items": []}
                top["items"].append(groups[group])
            groups[group]["items"].append(condition)
        else:
            top["items"].append(condition)
    return target, top


def rows_from_definition(definition):
    """(op, group ops, rows, json text) to fill the form with a definition: rows when it fits
    the form's two levels, else the JSON text for the advanced box."""
    fallback = ("and", {}, [], json.dumps(definition, ensure_ascii=False))
    if not isinstance(definition, dict) or not isinstance(definition.get("items"), list):
        return fallback
    rows, group_ops, number = [], {}, 0
    for item in definition["items"]:
        if not isinstance(item, dict):
            return fallback
        if "items" in item:
            number += 1
            if number > len(GROUPS) or not isinstance(item["items"], list):
                return fallback
            group_ops[str(number)] = item.get("op", "or")
            for inner in item["items"]:
                if not isinstance(inner, dict) or "items" in inner:
                    return fallback
                rows.append(_row(inner, str(number)))
        else:
            rows.append(_row(item, ""))
    return definition.get("op", "and"), group_ops, rows, ""


def _row(condition, group):
    value, value2 = condition.get("value"), ""
    if isinstance(value, list):
        if condition.get("op") == "between" and len(value) == 2:
            value, value2 = value
        else:
            value = ",".join(map(str, value))
    return {"field": condition.get("field", ""), "op": condition.get("op", "eq"),
            "value": "" if value is None else str(value), "value2": str(value2 or ""), "group": group}
