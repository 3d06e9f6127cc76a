"""Roster export and standing queries over the ledger. Nothing here commits; the views audit
and commit."""
import tempfile
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import func, or_, select

from ..exports import XlsxWriter
from ..extensions import db
from ..ledger import operations as ledger
from ..ledger import retirement
from ..ledger.privacy import mask_id_number, may_see_id_numbers
from ..ledger.models import Department, Establishment, Person, PostQuota, Reservation, Unit
from ..util import no_gc_pauses

STATUS_LABELS = {"on_roll": "在编", "left": "出编"}
# (header, column): the roster reads plain columns, not Person objects (no identity map to grow)
ROSTER_COLUMNS = [
    ("单位", Unit.name), ("单位代码", Unit.code), ("人员编码", Person.code), ("姓名", Person.name), ("性别", Person.sex),
    ("出生日期", Person.birth_date), ("身份证号", Person.id_number), ("编制类型", Person.category),
    ("内设机构", Department.name), ("职务", Person.post), ("中层职务", Person.midlevel_post),
    ("学历", Person.education), ("入编时间", Person.entry_date), ("人员状态", Person.status),
]
# the person-record fields kept in Person.details that a bureau's roster shows
DETAIL_COLUMNS = [("岗位类别", "post_type"), ("进入形式", "entry_form"), ("民族", "ethnicity"),
                  ("政治面貌", "political"), ("学位", "degree"), ("毕业院校", "school"), ("所学专业", "major")]
ROSTER_HEADER = [h for h, _ in ROSTER_COLUMNS] + [h for h, _ in DETAIL_COLUMNS]
_STATUS = ROSTER_HEADER.index("人员状态")
_ID_NUMBER = ROSTER_HEADER.index("身份证号")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH = 1000


def _text(value):
    """Every cell as text (dates as YYYY-MM-DD, so export -> edit -> import is exact); the
    writer (exports.XlsxWriter) neutralises formula-like text. Plain text, most cells, is returned
    as it is (a district's roster is 390,000 cells)."""
    if value.__class__ is str or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _within(query, scope, column=None):
    """The query limited to the units of `scope` (an organisation.jurisdiction.Jurisdiction; None:
    every unit, the system): on the Unit it joins, or on a unit id `column`."""
    if scope is None or scope.everything:
        return query
    return query.where(scope.unit_clause() if column is None else scope.clause(column))


def roster_rows(unit=None, include_left=False, user=None, scope=None):
    """The roster's rows, streamed from the database BATCH rows at a time (never all loaded):
    one unit's, or every unit's of `scope` (None: every unit). ID numbers are masked unless
    `user` may see them for the row's unit (ledger/privacy.py); no user (the command line, run by
    the system) writes them in full."""
    query = (select(*(column for _, column in ROSTER_COLUMNS), Person.details, Person.unit_id)
             .join(Unit, Unit.id == Person.unit_id)
             .outerjoin(Department, Department.id == Person.department_id)
             .order_by(Unit.code, Person.category, Person.entry_date, Person.id)
             .execution_options(yield_per=BATCH))
    if unit is not None:
        query = query.where(Person.unit_id == unit.id)
    elif scope is not None and not scope.everything:
        query = query.where(scope.unit_clause())
    if not include_left:
        query = query.where(Person.status == "on_roll")
    result = db.session.execute(query)
    shown = {}  # unit id -> may the user see full ID numbers there
    try:
        for partition in result.partitions():
            for row in partition:
                *values, details, unit_id = row
                values[_STATUS] = STATUS_LABELS.get(values[_STATUS], values[_STATUS])
                if user is not None:
                    if unit_id not in shown:
                        shown[unit_id] = may_see_id_numbers(user, unit_id)
                    if not shown[unit_id]:
                        values[_ID_NUMBER] = mask_id_number(values[_ID_NUMBER])
                details = details or {}
                yield [_text(v) for v in values] + [_text(details.get(key)) for _, key in DETAIL_COLUMNS]
    finally:
        result.close()


def write_roster(unit=None, include_left=False, user=None, scope=None):
    """(file, rows): the roster as an .xlsx in a temporary file (rows go to disk as they are
    appended: exports.XlsxWriter), positioned at its start; the caller streams and closes it."""
    out = tempfile.TemporaryFile()
    count = 0
    try:
        book = XlsxWriter(out)
        sheet = book.sheet("人员花名册", as_text=True)
        sheet.append(ROSTER_HEADER)
        for row in roster_rows(unit, include_left, user, scope):
            sheet.append(row)
            count += 1
        book.close()
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, count


# -- standing queries ---------------------------------------------------------------------------

@dataclass
class EstablishmentRow:
    unit: "UnitLine"
    figure: dict

    @property
    def label(self):
        return "超编" if self.figure["warning"] == "red" else "满编"

    @property
    def over(self):
        return self.figure["on_roll"] - self.figure["approved"]


@dataclass
class PostRow:
    unit: "UnitLine"
    figure: dict

    @property
    def over(self):
        return self.figure["filled"] - self.figure["approved"]


class PersonLine(NamedTuple):  # what the standing query shows of a person (plain columns, no ORM object)
    id: int
    code: str
    name: str
    sex: str
    birth_date: date
    category: str


class UnitLine(NamedTuple):
    code: str
    name: str


@dataclass
class RetiringRow:
    person: PersonLine
    unit: UnitLine
    retirement: retirement.Retirement
    months_left: int


def establishment_exceptions(scope=None):
    """超编 (on roll above approved) and 满编 (no vacancy left) lines, over-establishment first.
    One statement: the lines joined to their on-roll and reserved counts (grouped once for the
    whole district), filtered in SQL to the lines without vacancy, so only those become objects;
    the figures are the same as ledger.figures gives unit by unit."""
    on_roll = (_within(select(Person.unit_id, Person.category, func.count().label("n"))
                       .where(Person.status == "on_roll"), scope, Person.unit_id)
               .group_by(Person.unit_id, Person.category).subquery())
    reserved = (_within(select(Reservation.unit_id, Reservation.category,
                               func.sum(Reservation.count - Reservation.used).label("r"))
                        .where(Reservation.status == "active"), scope, Reservation.unit_id)
                .group_by(Reservation.unit_id, Reservation.category).subquery())
    n, r = func.coalesce(on_roll.c.n, 0), func.coalesce(reserved.c.r, 0)
    query = (select(Establishment.category, Establishment.approved, Unit.code, Unit.name, n, r)
             .join(Unit, Unit.id == Establishment.unit_id)
             .outerjoin(on_roll, (on_roll.c.unit_id == Establishment.unit_id)
                        & (on_roll.c.category == Establishment.category))
             .outerjoin(reserved, (reserved.c.unit_id == Establishment.unit_id)
                        & (reserved.c.category == Establishment.category))
             .where(Establishment.approved - n - r <= 0)
             .order_by(Unit.code, Establishment.id))
    query = _within(query, scope)
    rows = []
    for category, approved, code, name, n, r in db.session.execute(query):
        n, r = int(n), int(r)
        vacancy = approved - n - r
        light = ledger.warning(approved, n, vacancy)
        if light in ("red", "yellow"):
            rows.append(EstablishmentRow(UnitLine(code, name), {"category": category, "approved": approved,
                                                                "on_roll": n, "reserved": r, "vacancy": vacancy,
                                                                "warning": light}))
    rows.sort(key=lambda r: (r.figure["warning"] != "red", r.unit.code, r.figure["category"]))
    return rows


def post_exceptions(scope=None):
    """超职数: mid-level post lines held by more people than approved (leadership lines count no
    holders, as in ledger.post_figures). Two grouped queries for the district, not two per unit."""
    held = (_within(select(Person.unit_id, Person.midlevel_post.label("level"), func.count().label("n"))
                    .where(Person.status == "on_roll", Person.midlevel_post.is_not(None)), scope, Person.unit_id)
            .group_by(Person.unit_id, Person.midlevel_post).subquery())
    query = (select(PostQuota.kind, PostQuota.level, PostQuota.approved, Unit.code, Unit.name, held.c.n)
             .join(Unit, Unit.id == PostQuota.unit_id)
             .join(held, (held.c.unit_id == PostQuota.unit_id) & (held.c.level == PostQuota.level))
             .where(PostQuota.kind == "midlevel", held.c.n > PostQuota.approved)
             .order_by(Unit.code, PostQuota.level))
    query = _within(query, scope)
    return [PostRow(UnitLine(code, name), {"kind": kind, "kind_label": "中层职数", "level": level, "approved": approved,
                                           "filled": n, "vacancy": approved - n, "warning": "red"})
            for kind, level, approved, code, name, n in db.session.execute(query)]


def retiring(today, months, scope=None):
    """自然减员: people on roll reaching retirement age (ledger.retirement, the 2025 gradual rule)
    from this month to `months` months ahead, soonest first."""
    ranges = retirement.birth_ranges(today, months)
    # a woman is a worker (工人, retiring from 50) by her category or her post (retirement.group_of)
    worker = ((func.coalesce(Person.category, "") == "工勤编制")
              | (func.coalesce(Person.details["post_type"].as_string(), "") == "工勤"))
    group_filter = {"male": Person.sex == "男", "female_cadre": (Person.sex == "女") & ~worker,
                    "female_worker": (Person.sex == "女") & worker}
    # the database reads only these births (index on birth_date, sex of people on roll), each
    # range for its own group; every candidate's exact month is still checked below
    births = [group_filter[g] & Person.birth_date.between(*ranges[g]) for g in group_filter if g in ranges]
    if not births:
        return []
    query = (select(Person.id, Person.code, Person.name, Person.sex, Person.birth_date, Person.category,
                    Person.details["post_type"].as_string(), Unit.code, Unit.name)
             .join(Unit, Unit.id == Person.unit_id)
             .where(Person.status == "on_roll", or_(*births)))
    query = _within(query, scope)
    rows = []
    # plain rows from the connection, fetched at once (a province's ~44,000 short rows: no ORM
    # result machinery, no server-side cursor round trips)
    with no_gc_pauses():
        for pid, code, name, sex, born, category, post_type, unit_code, unit_name in db.session.connection().execute(query):
            ret = retirement.retirement(born, retirement.group_of(sex, category, post_type))
            left = retirement.months_until(ret, today)
            if 0 <= left <= months:
                rows.append(RetiringRow(PersonLine(pid, code, name, sex, born, category),
                                        UnitLine(unit_code, unit_name), ret, left))
        rows.sort(key=lambda r: (r.retirement.date, r.unit.code, r.person.id))
    return rows
