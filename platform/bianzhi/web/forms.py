"""Reading a Camunda form back from an HTML form post, and labelling stored values."""
from ..processes.forms import data_components, file_components


def from_post(form_def, post, user=None):
    """The submission as the form schema expects it. Dynamic lists come as key-<i>-field;
    a row left entirely blank is dropped."""
    data = {}
    for comp in data_components(form_def):
        key = comp["key"]
        if comp["type"] == "dynamiclist":
            rows = []
            indexes = sorted({int(name.split("-")[1]) for name in post if name.startswith(f"{key}-")
                              and name.split("-")[1].isdigit()})
            for i in indexes:
                row = {c["key"]: post.get(f"{key}-{i}-{c['key']}", "") for c in comp.get("components", [])
                       if c.get("key")}
                if any(str(v).strip() for v in row.values()):
                    rows.append({k: v for k, v in row.items() if str(v).strip() != ""})
            data[key] = rows
        elif comp["type"] == "checkbox":
            data[key] = post.get(key) in ("on", "true", "1")
        elif (comp.get("properties") or {}).get("source") == "user_unit" and user is not None and user.unit:
            data[key] = user.unit.code
        elif key in post:
            data[key] = post.get(key)
    return data


def files_from(form_def, files):
    out = []
    for comp in file_components(form_def):
        for f in files.getlist(comp["key"]):
            if f and f.filename:
                out.append((f.filename, f.read()))
    return out


def labelled(form_def, values, resolve=None):
    """[(label, display value)] for a stored submission, in the form's order. `resolve(key,
    value)` names values of dynamic option lists (a person's code → their name)."""
    rows = []
    for comp in data_components(form_def or {"components": []}):
        key = comp["key"]
        if key not in values:
            continue
        if comp["type"] == "dynamiclist":
            rows.extend(_labelled_items(comp, values[key]))
            continue
        if (comp.get("properties") or {}).get("source") == "user_unit":
            continue  # the applying unit is shown with the case already
        value = values[key]
        if comp.get("valuesKey") and resolve is not None:
            rows.append((comp.get("label") or key, resolve(comp["valuesKey"], value)))
            continue
        options = {str(v.get("value")): v.get("label") for v in comp.get("values") or []}
        rows.append((comp.get("label") or key, options.get(str(value), value)))
    return rows


def _labelled_items(comp, items):
    """One (label, text) row per item of a dynamic list, e.g. ("用编计划明细 第 1 条",
    "编制类型：事业编制，补充方式：公开招聘，计划用编数：2，用编理由：……")."""
    subs = [c for c in comp.get("components") or [] if c.get("key")
            and (c.get("properties") or {}).get("group") != "more"]
    item_label = (comp.get("properties") or {}).get("itemLabel") or "第 {n} 条"
    rows = []
    for n, item in enumerate(items or [], 1):
        parts = []
        for sub in subs:
            if sub["key"] in item:
                options = {str(v.get("value")): v.get("label") for v in sub.get("values") or []}
                parts.append(f"{sub.get('label') or sub['key']}：{options.get(str(item[sub['key']]), item[sub['key']])}")
        rows.append((f"{comp.get('label') or comp['key']} {item_label.replace('{n}', str(n))}", "，".join(parts)))
    return rows
