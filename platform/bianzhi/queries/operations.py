"""自由组合查询: a definition {"op": "and"|"or", "items": [condition | group]} is checked
(marshmallow for its shape, then each condition against the field whitelist), compiled to a
SQLAlchemy expression and run within the user's scope. Saved and shared queries.
Nothing here commits."""
import math
import tempfile
from dataclasses import dataclass
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import and_, false, func, not_, or_, select

from .. import clock
from ..errors import Forbidden, NotFound, ValidationFailed
from ..exports import XlsxWriter
from ..extensions import db
from ..ledger.models import Department, Person, Unit
from ..organisation import jurisdiction
from ..ledger.privacy import FULL_ID_ROLES, shown_id_number
from . import fields as qf
from ..util import key_int
from .models import SavedQuery

MAX_DEPTH = 3
MAX_CONDITIONS = 30
MAX_LIST = 200
MAX_TEXT = 100
PAGE_SIZE = 50
BATCH = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REQUIRED = {"required": "必填", "null": "不能为空"}


# -- the shape of a definition (marshmallow) ---------------------------------------------------

class ConditionSchema(Schema):
    error_messages = {"unknown": "不认识的键", "type": "应为对象"}
    field = fields.String(required=True, error_messages={**REQUIRED, "invalid": "应为字段名（文字）"})
    op = fields.String(required=True, validate=validate.OneOf(list(qf.OPERATORS), error="不认识的运算符"),
                       error_messages={**REQUIRED, "invalid": "应为运算符（文字）"})
    value = fields.Raw(load_default=None, allow_none=True)


class Node(fields.Field):
    """A condition, or a nested group when it has `items`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("应为条件或条件组（JSON 对象）")
        if "items" in value:
            return GroupSchema().load(value)
        return ConditionSchema().load(value)


class GroupSchema(Schema):
    error_messages = {"unknown": "不认识的键", "type": "应为对象"}
    op = fields.String(required=True, validate=validate.OneOf(["and", "or"], error="组合方式应为 and 或 or"),
                       error_messages={**REQUIRED, "invalid": "组合方式应为 and 或 or"})
    items = fields.List(Node(), required=True, error_messages={**REQUIRED, "invalid": "应为条件列表"})


def _path(prefix, index):
    return f"{prefix}.{index + 1}" if prefix else str(index + 1)


def _flatten(messages, prefix=""):
    """marshmallow's nested messages as ["条件 2.1：…"]."""
    out = []
    for key, value in messages.items():
        if key == "items" and isinstance(value, dict):
            for index, inner in value.items():
                if isinstance(inner, dict):
                    out.extend(_flatten(inner, _path(prefix, index)))
                else:
                    out.append(f"条件 {_path(prefix, index)}：{'；'.join(map(str, inner))}")
            continue
        text = "；".join(map(str, value)) if isinstance(value, list) else str(value)
        where = f"条件 {prefix}" if prefix else "查询定义"
        name = {"op": "组合方式" if "组合方式" in text else "运算符", "field": "字段", "items": "条件列表",
                "value": "值"}.get(key, key)
        out.append(f"{where}（{name}）：{text}")
    return out


def _refuse(problems):
    shown = "；".join(problems[:3]) + (f"；另有 {len(problems) - 3} 处" if len(problems) > 3 else "")
    raise ValidationFailed(f"查询条件有误：{shown}", fields={"definition": problems}, code="bad_query")


def parse(definition):
    """The definition checked for shape, depth and size; ValidationFailed names each problem."""
    if not isinstance(definition, dict):
        _refuse(["查询定义应为 JSON 对象 {\"op\": \"and\", \"items\": [...]}"])
    count, depth = _measure_raw(definition)  # before marshmallow recurses into a hostile tree
    if depth <= MAX_DEPTH and count <= MAX_CONDITIONS:
        try:
            tree = GroupSchema().load(definition)
        except ValidationError as exc:
            _refuse(_flatten(exc.messages))
    problems = []
    if depth > MAX_DEPTH:
        problems.append(f"条件组最多嵌套 {MAX_DEPTH} 层，现为 {depth} 层")
    if count > MAX_CONDITIONS:
        problems.append(f"条件最多 {MAX_CONDITIONS} 个，现为 {count} 个")
    if problems:
        _refuse(problems)
    return tree


def _measure_raw(definition):
    """(conditions, depth) of a raw definition, without recursion: anything in a list of
    `items` that is not a group counts as a condition."""
    count, deepest, stack = 0, 0, [(definition, 1)]
    while stack:
        group, depth = stack.pop()
        deepest = max(deepest, depth)
        items = group.get("items")
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and "items" in item:
                stack.append((item, depth + 1))
            else:
                count += 1
    return count, deepest


# -- values -------------------------------------------------------------------------------------

class BadValue(Exception):
    pass


def _scalar(field, raw):
    if isinstance(raw, (dict, list)) or raw is None:
        raise BadValue("缺少值" if raw is None else "应为单个值")
    if field.type == "number":
        if isinstance(raw, bool):
            raise BadValue("应为整数")
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise BadValue(f"“{raw}”不是整数") from None
        low, high = field.bounds
        if not low <= number <= high:
            raise BadValue(f"应在 {low} 到 {high} 之间")
        return number
    if field.type == "date":
        try:
            return date.fromisoformat(str(raw).strip())
        except ValueError:
            raise BadValue(f"“{raw}”不是日期（应为 YYYY-MM-DD）") from None
    text = str(raw).strip()
    if not text:
        raise BadValue("值不能为空")
    if len(text) > MAX_TEXT:
        raise BadValue(f"值最长 {MAX_TEXT} 个字")
    if field.type == "choice":
        by_label = {label: key for key, label in field.labels.items()}
        text = by_label.get(text, text)
        if text not in field.choices:
            allowed = "、".join(field.labels.get(c, c) for c in field.choices)
            raise BadValue(f"“{raw}”不是可选值（{allowed}）")
    return text


def _value(field, op, raw):
    if op in ("empty", "not_empty"):
        return None
    if op == "in":
        if isinstance(raw, str):
            raw = [p for p in raw.replace("，", ",").replace("、", ",").split(",") if p.strip()]
        if not isinstance(raw, list) or not raw:
            raise BadValue("应为非空列表（逗号分隔）")
        if len(raw) > MAX_LIST:
            raise BadValue(f"列表最多 {MAX_LIST} 项")
        return [_scalar(field, v) for v in raw]
    if op == "between":
        if isinstance(raw, str):
            raw = [p for p in raw.replace("～", "~").replace("至", "~").split("~")]
        if not isinstance(raw, list) or len(raw) != 2:
            raise BadValue("介于需要两个值 [起, 止]")
        low, high = (_scalar(field, v) for v in raw)
        if low > high:
            raise BadValue("起值大于止值")
        return low, high
    return _scalar(field, raw)


# -- compiling ------------------------------------------------------------------------------------

def _years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age(op, value, today):
    """年龄 N ⇔ born in (today − (N+1) years, today − N years]."""
    def at_least(n):
        return Person.birth_date <= _years_before(today, n)

    def at_most(n):
        return Person.birth_date > _years_before(today, n + 1)

    if op == "eq":
        return and_(at_least(value), at_most(value))
    if op == "ne":
        return not_(and_(at_least(value), at_most(value)))
    if op == "gte":
        return at_least(value)
    if op == "lte":
        return at_most(value)
    return and_(at_least(value[0]), at_most(value[1]))  # between


def _condition(field, op, value, today):
    if field.key == "person.age":
        return _age(op, value, today)
    col = field.expr
    if op == "eq":
        return col == value
    if op == "ne":
        return or_(col != value, col.is_(None)) if field.nullable else col != value
    if op == "contains":
        return func.lower(col).contains(value.lower(), autoescape=True)
    if op == "in":
        return col.in_(value)
    if op == "gte":
        return col >= value
    if op == "lte":
        return col <= value
    if op == "between":
        return col.between(*value)
    blank = or_(col.is_(None), col == "") if field.type == "text" else col.is_(None)
    return blank if op == "empty" else not_(blank)


def may_query_id_numbers(user):
    """Conditions on ID numbers: the roles that see them (a clerk: their own unit's people only);
    user None is the system (data-quality rules)."""
    return user is None or user.has_role(*FULL_ID_ROLES) or user.has_role("unit_clerk")


def compile_definition(user, target, definition, today=None):
    """The definition as one SQLAlchemy boolean expression over the target's base query
    (base_query); `user` None compiles for the system (data-quality rules)."""
    if target not in qf.TARGETS:
        raise ValidationFailed(f"查询对象应为 {'、'.join(qf.TARGETS)}（人员或单位）", fields={"target": ["无效"]})
    tree = parse(definition)
    today = today or clock.today()
    problems = []

    def build(group, prefix):
        parts = []
        for index, item in enumerate(group["items"]):
            path = _path(prefix, index)
            if "items" in item:
                parts.append(build(item, path))
                continue
            field = qf.field_for(target, item["field"])
            if field is None:
                problems.append(f"条件 {path}：{qf.TARGETS[target]}查询没有字段“{item['field']}”")
                continue
            where = f"条件 {path}（{field.label} {qf.OPERATORS[item['op']]}）"
            if field.sensitive and not may_query_id_numbers(user):
                problems.append(f"{where}：您的角色不能按{field.label}查询")
                continue
            if item["op"] not in field.operators:
                allowed = "、".join(qf.OPERATORS[o] for o in field.operators)
                problems.append(f"{where}：{field.label}不能用“{qf.OPERATORS[item['op']]}”，可用：{allowed}")
                continue
            try:
                value = _value(field, item["op"], item["value"])
            except BadValue as exc:
                problems.append(f"{where}：{exc}")
                continue
            expr = _condition(field, item["op"], value, today)
            if field.sensitive and user is not None and not user.has_role(*FULL_ID_ROLES):
                expr = and_(Person.unit_id == user.unit_id, expr)  # a clerk matches only their own unit's
            parts.append(expr)
        if not parts:
            return and_(True)
        return and_(*parts) if group["op"] == "and" else or_(*parts)

    expr = build(tree, "")
    if problems:
        _refuse(problems)
    return expr


# -- scope and running ------------------------------------------------------------------------------

def scope_of(user):
    """What the user's queries cover (organisation.jurisdiction): a bureau reader their office's
    jurisdiction, a unit clerk their unit and the units below it (Unit.parent_id tree), the
    system (user None: the data-quality checks) everything; anyone else is refused."""
    scope = jurisdiction.of(user)
    if scope is jurisdiction.NOTHING:
        raise Forbidden("只有编办人员、督查和单位经办人可以使用组合查询")
    return scope


def _columns(target):
    return [qf.field_for(target, key) for _, key in qf.COLUMNS[target]]


def base_query(target, user, columns):
    """SELECT columns FROM the target joined to what its fields read, within the user's scope."""
    if target == "person":
        query = (select(*columns).select_from(Person).join(Unit, Unit.id == Person.unit_id)
                 .outerjoin(Department, Department.id == Person.department_id)
                 .outerjoin(qf.ParentUnit, qf.ParentUnit.id == Unit.parent_id))
    else:
        query = select(*columns).select_from(Unit).outerjoin(qf.ParentUnit, qf.ParentUnit.id == Unit.parent_id)
    scope = scope_of(user)
    if not scope.everything:
        query = query.where(scope.unit_clause())  # both targets read Unit: the row's unit
    return query


def _result_columns(target):
    owner = Person.unit_id if target == "person" else Unit.id
    return [f.expr.label(f"c{i}") for i, f in enumerate(_columns(target))] + [owner.label("owner_unit")]


@dataclass
class Page:
    target: str
    header: list
    keys: list
    rows: list  # lists of display values
    total: int
    page: int
    pages: int
    sort: str
    order: str


def _sort(target, sort, order):
    sort = sort or qf.DEFAULT_SORT[target]
    if sort not in qf.SORTABLE[target]:
        allowed = "、".join(f.label for f in _columns(target) if f.key in qf.SORTABLE[target])
        raise ValidationFailed(f"不能按“{sort}”排序，可排序的列：{allowed}", fields={"sort": ["无效"]})
    if order not in (None, "", "asc", "desc"):
        raise ValidationFailed("排序方向应为 asc 或 desc", fields={"order": ["无效"]})
    return sort, order or "asc"


def _ordered(query, target, sort, order):
    col = qf.field_for(target, sort).expr
    key = Person.id if target == "person" else Unit.id
    return query.order_by((col.desc() if order == "desc" else col.asc()).nulls_last(), key)


def _display(user, target, values, owner_unit, columns=None):
    out = []
    for field, value in zip(columns or _columns(target), values):
        if field.sensitive:
            value = shown_id_number(user, value, owner_unit)
        elif field.labels:
            value = field.labels.get(value, value)
        if isinstance(value, date):
            value = value.isoformat()
        out.append(value)
    return out


def run(user, target, definition, page=1, sort=None, order=None, page_size=PAGE_SIZE, today=None):
    """One page of the results, ID numbers masked unless the user may see them."""
    condition = compile_definition(user, target, definition, today)
    sort, order = _sort(target, sort, order)
    total = db.session.scalar(select(func.count()).select_from(
        base_query(target, user, [Person.id if target == "person" else Unit.id]).where(condition).subquery()))
    pages = max(1, math.ceil(total / page_size))
    if not isinstance(page, int) or page < 1:
        raise ValidationFailed("页码应为正整数", fields={"page": ["无效"]})
    page = min(page, pages)
    rows = []
    for *values, owner in db.session.execute(
            _ordered(base_query(target, user, _result_columns(target)).where(condition), target, sort, order)
            .limit(page_size).offset((page - 1) * page_size)):
        rows.append(_display(user, target, values, owner))
    return Page(target, [h for h, _ in qf.COLUMNS[target]], [k for _, k in qf.COLUMNS[target]], rows, total,
                page, pages, sort, order)


def export(user, target, definition, sort=None, order=None, today=None):
    """(file, rows): every result as .xlsx (write-only workbook, cells neutralised, ID numbers
    masked unless the user may see them), positioned at its start; the caller streams, audits
    and closes it."""
    condition = compile_definition(user, target, definition, today)
    sort, order = _sort(target, sort, order)
    query = _ordered(base_query(target, user, _result_columns(target)).where(condition), target, sort, order)
    out = tempfile.TemporaryFile()
    count = 0
    try:
        book = XlsxWriter(out)
        sheet = book.sheet(f"{qf.TARGETS[target]}查询结果", as_text=True)
        sheet.append([h for h, _ in qf.COLUMNS[target]])
        result = db.session.execute(query.execution_options(yield_per=BATCH))
        try:
            columns = _columns(target)
            for *values, owner in result:
                sheet.append(_display(user, target, values, owner, columns))
                count += 1
        finally:
            result.close()
        book.close()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, count


# -- saved and shared queries ----------------------------------------------------------------------

def _home_office():
    """A user's office as SQL over the users table (User.home_office_id): their own office, else
    their unit's (a clerk)."""
    from ..accounts.models import User

    unit_office = select(Unit.office_id).where(Unit.id == User.unit_id).scalar_subquery()
    return func.coalesce(User.office_id, unit_office)


def _shared_here(user):
    """Shared queries are shared within the owner's office: listed for the users of that office
    (bureau staff and the clerks of its units), never in another office."""
    from ..accounts.models import User

    office = user.home_office_id
    if office is None:
        return false()
    owners = select(User.id).where(_home_office() == office)
    return SavedQuery.shared & SavedQuery.owner_id.in_(owners)


def visible_saved(user):
    """The user's own queries and the ones shared in their office, own first."""
    return db.session.scalars(select(SavedQuery).where(or_(SavedQuery.owner_id == user.id, _shared_here(user)))
                              .order_by((SavedQuery.owner_id != user.id), SavedQuery.name, SavedQuery.id)).all()


def get_saved(user, query_id):
    saved, key = None, key_int(query_id)
    if key is not None:
        saved = db.session.scalar(select(SavedQuery).where(SavedQuery.id == key,
                                                           or_(SavedQuery.owner_id == user.id, _shared_here(user))))
    if saved is None:
        raise NotFound("没有这个已保存的查询，或它未共享给您")
    return saved


def _own(user, query_id):
    saved = get_saved(user, query_id)
    if saved.owner_id != user.id:
        raise Forbidden("只能修改自己保存的查询")
    return saved


def _name(name):
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed("请为查询命名", fields={"name": ["必填"]})
    if len(name) > 64:
        raise ValidationFailed("查询名称最长 64 个字", fields={"name": ["过长"]})
    return name


def save(user, name, target, definition, shared=False):
    compile_definition(user, target, definition)  # only a query that runs is kept
    saved = SavedQuery(owner_id=user.id, name=_name(name), target=target, definition=definition,
                       shared=bool(shared))
    db.session.add(saved)
    db.session.flush()
    return saved


def rename(user, query_id, name):
    saved = _own(user, query_id)
    saved.name = _name(name)
    db.session.flush()
    return saved


def set_shared(user, query_id, shared):
    saved = _own(user, query_id)
    saved.shared = bool(shared)
    db.session.flush()
    return saved


def delete(user, query_id):
    saved = _own(user, query_id)
    db.session.delete(saved)
    db.session.flush()
