"""The whitelist of what the query builder (自由组合查询) may ask about: every field a condition,
a sort or a result column may name, with its label, type and SQL expression. Nothing outside
this table reaches SQL; values are always bound parameters.

Two targets: 人员 (people, with the fields of their unit too) and 单位 (units). Expressions are
written against the base queries of operations.py: Person joined to its Unit, its Department
and the Unit's parent (ParentUnit)."""
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..ledger.models import CATEGORIES, FUNDING, Department, Establishment, Person, Unit

ParentUnit = aliased(Unit, name="parent_unit")

TARGETS = {"person": "人员", "unit": "单位"}

# operator -> label; which operators a field type allows
OPERATORS = {"eq": "等于", "ne": "不等于", "contains": "包含", "in": "属于（列表）", "gte": "不早于/不小于",
             "lte": "不晚于/不大于", "between": "介于", "empty": "为空", "not_empty": "不为空"}
TYPE_OPERATORS = {
    "text": ("eq", "ne", "contains", "in", "empty", "not_empty"),
    "choice": ("eq", "ne", "in", "empty", "not_empty"),
    "date": ("eq", "ne", "gte", "lte", "between", "empty", "not_empty"),
    "number": ("eq", "ne", "gte", "lte", "between"),
}
STATUS_CHOICES = {"on_roll": "在编", "left": "出编"}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str  # text | choice | date | number
    expr: object = None  # the SQL expression (None for computed fields: age)
    choices: tuple = ()  # allowed values (choice); a dict maps stored value -> label
    labels: dict = field(default_factory=dict)
    sensitive: bool = False  # ID numbers: only roles that see them may query them
    nullable: bool = True
    bounds: tuple = (0, 10**6)  # numbers: the smallest and largest value a condition may name

    @property
    def operators(self):
        ops = TYPE_OPERATORS[self.type]
        if self.sensitive:
            return ("eq", "contains")
        if not self.nullable:
            ops = tuple(o for o in ops if o not in ("empty", "not_empty"))
        return ops


def _detail(key):
    return Person.details[key].as_string()


_approved_total = (select(func.coalesce(func.sum(Establishment.approved), 0))
                   .where(Establishment.unit_id == Unit.id).correlate(Unit).scalar_subquery())
_on_roll_total = (select(func.count(Person.id)).where(Person.unit_id == Unit.id, Person.status == "on_roll")
                  .correlate(Unit).scalar_subquery())

UNIT_FIELDS = [
    Field("unit.name", "单位名称", "text", Unit.name, nullable=False),
    Field("unit.code", "统一社会信用代码", "text", Unit.code, nullable=False),
    Field("unit.kind", "机构类别", "choice", Unit.kind, choices=("党政机关", "事业单位"), nullable=False),
    Field("unit.level", "机构级别", "text", Unit.level),
    Field("unit.nature", "机构性质", "text", Unit.nature),
    Field("unit.funding", "经费形式", "choice", Unit.funding, choices=FUNDING),
    Field("unit.system", "系统类别", "text", Unit.system),
    Field("unit.parent", "主管单位", "text", ParentUnit.name),
    Field("unit.approved", "核定编制总数", "number", _approved_total, nullable=False),
    Field("unit.on_roll", "在编人数", "number", _on_roll_total, nullable=False),
]

PERSON_FIELDS = [
    Field("person.name", "姓名", "text", Person.name, nullable=False),
    Field("person.code", "人员编码", "text", Person.code, nullable=False),
    Field("person.sex", "性别", "choice", Person.sex, choices=("男", "女"), nullable=False),
    Field("person.birth_date", "出生日期", "date", Person.birth_date, nullable=False),
    Field("person.age", "年龄（周岁）", "number", None, nullable=False, bounds=(0, 150)),
    Field("person.id_number", "身份证号", "text", Person.id_number, sensitive=True, nullable=False),
    Field("person.category", "编制类型", "choice", Person.category, choices=CATEGORIES, nullable=False),
    Field("person.status", "人员状态", "choice", Person.status, choices=tuple(STATUS_CHOICES),
          labels=STATUS_CHOICES, nullable=False),
    Field("person.education", "学历", "text", Person.education),
    Field("person.post", "职务", "text", Person.post),
    Field("person.midlevel_post", "中层职务", "choice", Person.midlevel_post, choices=("正职", "副职")),
    Field("person.entry_date", "入编时间", "date", Person.entry_date, nullable=False),
    Field("person.department", "内设机构", "text", Department.name),
    Field("person.ethnicity", "民族", "text", _detail("ethnicity")),
    Field("person.political", "政治面貌", "text", _detail("political")),
    Field("person.degree", "学位", "text", _detail("degree")),
    Field("person.school", "毕业院校", "text", _detail("school")),
    Field("person.major", "所学专业", "text", _detail("major")),
    Field("person.post_type", "岗位类别", "text", _detail("post_type")),
]

FIELDS = {"person": {f.key: f for f in PERSON_FIELDS + UNIT_FIELDS}, "unit": {f.key: f for f in UNIT_FIELDS}}

# result columns per target: (header, field key); the first is the default sort
COLUMNS = {
    "person": [("单位", "unit.name"), ("人员编码", "person.code"), ("姓名", "person.name"), ("性别", "person.sex"),
               ("出生日期", "person.birth_date"), ("身份证号", "person.id_number"), ("编制类型", "person.category"),
               ("人员状态", "person.status"), ("学历", "person.education"), ("职务", "person.post"),
               ("中层职务", "person.midlevel_post"), ("内设机构", "person.department"),
               ("入编时间", "person.entry_date")],
    "unit": [("统一社会信用代码", "unit.code"), ("单位名称", "unit.name"), ("主管单位", "unit.parent"),
             ("机构类别", "unit.kind"), ("机构级别", "unit.level"), ("经费形式", "unit.funding"),
             ("系统类别", "unit.system"), ("核定编制总数", "unit.approved"), ("在编人数", "unit.on_roll")],
}
SORTABLE = {"person": {k for _, k in COLUMNS["person"]} - {"person.id_number"},
            "unit": {k for _, k in COLUMNS["unit"]}}
DEFAULT_SORT = {"person": "unit.name", "unit": "unit.code"}


def field_for(target, key):
    return FIELDS.get(target, {}).get(key)


def choices_of(target):
    """For the form: [(key, label, type, operators, choices)] of a target."""
    return [f for f in FIELDS[target].values()]
