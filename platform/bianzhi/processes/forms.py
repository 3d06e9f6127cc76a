"""Forms are Camunda Forms JSON (the schema form-js and Camunda Modeler edit) in `forms/`.

The browser may help, but every submission is validated here, by a marshmallow schema built
from the same JSON. Supported components: textfield, textarea, number, select, radio,
checkbox, datetime (date), dynamiclist (a list of records), filepicker (files, handled apart).
Properties we read: `validator: cn_ric` (resident ID number), `requiredWhen: key:v1|v2`,
`source: user_unit`, `minItems`, `group`.
"""
import re
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..ledger import idnumber

# Dynamic option lists a form may name with Camunda's `valuesKey`; the web layer fills them
# for the current user's unit (web/options.py), the step's rule validates the chosen value.
OPTION_SOURCES = ("unit_people", "unit_departments", "unit_post_holders")

FIELD_TYPES = {"textfield", "textarea", "number", "select", "radio", "checkbox", "datetime", "dynamiclist"}
LAYOUT_TYPES = {"text", "html", "spacer", "separator", "group", "image", "button"}
FILE_TYPES = {"filepicker"}

# A form key (camunda:formKey) is the plain name of a file in forms/, never a path: it becomes
# `forms/<key>.json`, so anything with a separator, a dot or a drive would read elsewhere.
FORM_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")

MSG_REQUIRED = "必填"
MSG_NULL = "必填"


def is_form_key(key):
    """Whether `key` may name a form file (letters, digits, underscores; at most 64)."""
    return isinstance(key, str) and FORM_KEY.fullmatch(key) is not None


class FormDefinitionError(ValueError):
    """A form file that cannot be used; `problems` lists (component key, reason)."""

    def __init__(self, problems):
        super().__init__("；".join(f"{k}：{r}" for k, r in problems))
        self.problems = problems


def _label(component):
    return component.get("label") or component.get("key") or component.get("type")


def _values(component):
    return [str(v.get("value")) for v in component.get("values") or []]


def check_definition(form, form_key="form"):
    """Raise FormDefinitionError unless `form` is a usable Camunda form."""
    problems = []
    if not isinstance(form, dict) or not isinstance(form.get("components"), list):
        raise FormDefinitionError([(form_key, "表单必须是含 components 列表的 JSON 对象")])

    def walk(components, seen, path):
        for comp in components:
            if not isinstance(comp, dict) or "type" not in comp:
                problems.append((path, "组件缺少 type"))
                continue
            kind, key = comp["type"], comp.get("key")
            if kind in LAYOUT_TYPES:
                continue
            if kind not in FIELD_TYPES | FILE_TYPES:
                problems.append((key or path, f"不支持的组件类型 {kind}"))
                continue
            if not key or not str(key).isidentifier():
                problems.append((key or path, f"组件「{_label(comp)}」的 key 必须是字母、数字或下划线"))
                continue
            if key in seen:
                problems.append((key, "key 重复"))
            seen.add(key)
            if kind in ("select", "radio") and not _values(comp) and not comp.get("valuesKey"):
                problems.append((key, f"「{_label(comp)}」没有可选项"))
            if comp.get("valuesKey") and comp["valuesKey"] not in OPTION_SOURCES:
                problems.append((key, f"未知的选项来源 valuesKey={comp['valuesKey']}；可用：{'、'.join(OPTION_SOURCES)}"))
            when = (comp.get("properties") or {}).get("requiredWhen")
            if when and ":" not in when:
                problems.append((key, "requiredWhen 应写作 字段:值1|值2"))
            if kind == "dynamiclist":
                walk(comp.get("components") or [], set(), key)
    walk(form["components"], set(), form_key)
    if problems:
        raise FormDefinitionError(problems)


def file_components(form):
    return [c for c in form.get("components", []) if c.get("type") in FILE_TYPES]


def data_components(form):
    return [c for c in form.get("components", []) if c.get("type") in FIELD_TYPES]


class _Str(fields.String):
    """Strings are stripped; an empty string counts as not given."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None if self.required else value
        return super().deserialize(value, attr, data, **kwargs)


def _field(comp):
    kind = comp["type"]
    rules = comp.get("validate") or {}
    props = comp.get("properties") or {}
    required = bool(rules.get("required"))
    messages = {"required": MSG_REQUIRED, "null": MSG_NULL}
    validators = []
    if kind in ("textfield", "textarea"):
        max_len = int(rules.get("maxLength") or (2000 if kind == "textarea" else 200))
        validators.append(validate.Length(max=max_len, error=f"不能超过 {max_len} 个字"))
        if props.get("validator") == "cn_ric":
            validators.append(_check_ric)
        return _Str(required=required, allow_none=not required, validate=validators,
                    error_messages={**messages, "invalid": "应为文字"})
    if kind == "number":
        low, high = rules.get("min"), rules.get("max")
        if low is not None or high is not None:
            text = (f"应在 {low} 到 {high} 之间" if low is not None and high is not None
                    else f"不能小于 {low}" if low is not None else f"不能大于 {high}")
            validators.append(validate.Range(min=low, max=high, error=text))
        if comp.get("decimalDigits", 0) == 0:
            return fields.Integer(required=required, allow_none=not required, validate=validators,
                                  strict=False, error_messages={**messages, "invalid": "应为整数"})
        return fields.Decimal(required=required, allow_none=not required, validate=validators,
                              as_string=True, error_messages={**messages, "invalid": "应为数字"})
    if kind in ("select", "radio") and comp.get("valuesKey"):
        # options come from the ledger (e.g. the unit's people); the step's rule checks the value
        return _Str(required=required, allow_none=not required, error_messages=messages)
    if kind in ("select", "radio"):
        options = _values(comp)
        return _Str(required=required, allow_none=not required,
                    validate=validate.OneOf(options, error="请选择有效的选项：" + "、".join(
                        v.get("label", v.get("value")) for v in comp["values"])),
                    error_messages=messages)
    if kind == "checkbox":
        return fields.Boolean(required=required, load_default=False, error_messages={**messages, "invalid": "应为是或否"})
    if kind == "datetime":
        return _Date(required=required, allow_none=not required,
                     error_messages={**messages, "invalid": "日期格式应为 YYYY-MM-DD"})
    if kind == "dynamiclist":
        inner = build_schema({"components": comp.get("components") or []})
        min_items = int(props.get("minItems") or (1 if required else 0))
        return fields.List(fields.Nested(inner), required=required,
                           validate=validate.Length(min=min_items, error=f"至少填写 {min_items} 条"),
                           error_messages={**messages, "invalid": "应为列表"})
    raise AssertionError(kind)


class _Date(fields.Date):
    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str) and value.strip() == "":
            value = None
        return super().deserialize(value, attr, data, **kwargs)


def _check_ric(value):
    if value is None:
        return
    try:
        idnumber.parse(value)
    except idnumber.InvalidIdNumber as exc:
        raise ValidationError(str(exc)) from None


def build_schema(form):
    """A marshmallow Schema instance validating one submission of `form`."""
    attrs = {}
    conditional = []
    for comp in data_components(form):
        attrs[comp["key"]] = _field(comp)
        when = (comp.get("properties") or {}).get("requiredWhen")
        if when:
            other, _sep, values = when.partition(":")
            conditional.append((comp["key"], other.strip(), set(values.split("|")), _label(comp)))

    def _conditional(self, data, **kwargs):
        errors = {}
        for key, other, values, label in conditional:
            if data.get(other) in values and not data.get(key):
                errors[key] = [f"{label}为必填项"]
        if errors:
            raise ValidationError(errors)

    attrs["_conditional"] = validates_schema(_conditional)
    attrs["Meta"] = type("Meta", (), {"unknown": RAISE})
    schema_cls = type("FormSchema", (Schema,), attrs)
    schema_cls.error_messages = {"unknown": "表单中没有这个字段", "type": "数据格式不正确"}
    return schema_cls()


_schemas = {}  # id(form) -> (form, its schema): the forms of a deployed version never change


def schema_for(form):
    """The schema of `form`, built once per form object (forms come from the per-process cache
    of deployed versions, so the same dict arrives again; building a schema class costs more
    than validating with it). Keyed by identity and checked, so a new dict gets its own."""
    entry = _schemas.get(id(form))
    if entry is None or entry[0] is not form:
        if len(_schemas) > 512:
            _schemas.clear()
        entry = _schemas[id(form)] = (form, build_schema(form))
    return entry[1]


def load(form, data):
    """Validate `data` against `form`; return JSON-ready values or raise ValidationError."""
    values = schema_for(form).load(data or {})
    return _jsonable(values)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
