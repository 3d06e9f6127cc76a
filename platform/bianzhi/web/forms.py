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


def labelled(form_def, values):
    """[(label, display value)] for a stored submission, in the form's order."""
    rows = []
    for comp in data_components(form_def or {"components": []}):
        key = comp["key"]
        if key not in values or comp["type"] == "dynamiclist":
            continue
        if (comp.get("properties") or {}).get("source") == "user_unit":
            continue  # the applying unit is shown with the case already
        value = values[key]
        options = {str(v.get("value")): v.get("label") for v in comp.get("values") or []}
        rows.append((comp.get("label") or key, options.get(str(value), value)))
    return rows
