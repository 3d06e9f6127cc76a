"""Statistics over the ledger: establishment and occupancy by system and category, the staff
structure, changes over a period and the ledger on any date — each as a `Table` (a page table,
its chart and its Excel sheet are the same rows). Grouped SQL queries, never one query per unit;
nothing here writes. Scope (organisation.jurisdiction): bureau staff and supervisors see their
office's jurisdiction (a city the roll-up of its own units and its counties', or the one office of
it they chose), a unit clerk their unit and its subordinate units; each function takes that scope
(a Jurisdiction; None: every unit, the system)."""
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select

from .. import clock
from ..errors import ValidationFailed
from ..exports import XlsxWriter
from ..extensions import db
from ..ledger.models import ChronicleEntry, Establishment, Person, PostQuota, Reservation, Unit
from ..ledger.operations import warning
from ..organisation import jurisdiction

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WARNING_TEXT = {"red": "红灯（超编）", "yellow": "黄灯（无空编）", "green": "绿灯"}
AGE_BANDS = ("30岁及以下", "31–40岁", "41–50岁", "51–55岁", "56岁及以上")
MAX_PERIOD_DAYS = 366 * 10
CHART_MAX = 30  # bars in one chart


@dataclass
class Table:
    """One statistic: rows for the page table and the Excel sheet, and the chart drawn from them
    (`chart` names the columns: labels from `label_col`, one series per column in `series`)."""
    key: str
    title: str
    header: list
    rows: list
    chart: str | None = None  # bar, stacked, pie, line
    label_col: int = 0
    series: list = field(default_factory=list)
    note: str = ""
    links: dict = field(default_factory=dict)  # (row index, column index) -> drill-down URL
    chart_skip: tuple = ("合计",)  # row labels the chart leaves out (totals, rows of another scale)
    chart_rows: list | None = None  # what the chart draws when it is not the table's rows

    def chart_spec(self):
        if not self.chart or not self.rows:
            return None
        body = [r for r in (self.chart_rows if self.chart_rows is not None else self.rows)
                if r[self.label_col] not in self.chart_skip and r[0] != "合计"]
        note = ""
        if len(body) > CHART_MAX:  # a district's 500 units: the chart shows the largest, the table all
            first = self.series[0]
            body = sorted(body, key=lambda r: -(r[first] if isinstance(r[first], (int, float)) else 0))[:CHART_MAX]
            note = f"图中为{self.header[first]}最多的前 {CHART_MAX} 项，表中为全部"
        return {"key": self.key, "type": self.chart, "title": self.title, "note": note,
                "categories": [str(r[self.label_col]) for r in body],
                "series": [{"name": self.header[c], "data": [r[c] if isinstance(r[c], (int, float)) else 0
                                                             for r in body]} for c in self.series]}


# -- scope and dates ---------------------------------------------------------------------------

def scope_of(user, office_code=None):
    """The reader's jurisdiction (organisation.jurisdiction.of): `office_code` narrows an upper
    office's roll-up to one office below it."""
    return jurisdiction.of(user, office_code)


def _in_scope(column, scope):
    return (scope or jurisdiction.EVERYTHING).clause(column)


def parse_date(value, name, default):
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"日期格式应为 YYYY-MM-DD：{value}", fields={name: ["日期格式应为 YYYY-MM-DD"]}) from None


def as_of_date(value):
    day = parse_date(value, "date", clock.today())
    if day > clock.today():
        raise ValidationFailed(f"不能查询未来日期（{day.isoformat()}）", fields={"date": ["不能查询未来日期"]})
    return day


def period(start, end):
    today = clock.today()
    end = parse_date(end, "to", today)
    start = parse_date(start, "from", date(end.year, 1, 1))
    if start > end:
        raise ValidationFailed(f"起始日期 {start} 晚于截止日期 {end}", fields={"from": ["起始日期不能晚于截止日期"]})
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationFailed("统计期间最长十年", fields={"from": ["统计期间最长十年"]})
    return start, end


def end_of_day(day):
    """The last moment of a Beijing date, as the naive UTC the chronicle stores."""
    return clock.at_local(day + timedelta(days=1)) - timedelta(microseconds=1)


# -- the ledger on a date ----------------------------------------------------------------------

def district_figures_as_of(moment, scope=None):
    """{(unit_id, category): {approved, on_roll, reserved, vacancy, warning}} at `moment` (naive
    UTC) for every unit in `scope` (a Jurisdiction; None: all) — the same answer as ledger.history.figures_as_of
    unit by unit, from three grouped queries for today's figures and one pass over the
    chronicle entries since `moment`."""
    lines = {}
    for unit_id, category, approved in db.session.execute(
            select(Establishment.unit_id, Establishment.category, Establishment.approved)
            .where(_in_scope(Establishment.unit_id, scope)).order_by(Establishment.unit_id, Establishment.id)):
        lines[(unit_id, category)] = {"category": category, "approved": approved, "on_roll": 0, "reserved": 0}
    for unit_id, category, n in db.session.execute(
            select(Person.unit_id, Person.category, func.count()).where(Person.status == "on_roll",
                                                                        _in_scope(Person.unit_id, scope))
            .group_by(Person.unit_id, Person.category)):
        if (unit_id, category) in lines:
            lines[(unit_id, category)]["on_roll"] = n
    for unit_id, category, n in db.session.execute(
            select(Reservation.unit_id, Reservation.category, func.sum(Reservation.count - Reservation.used))
            .where(Reservation.status == "active", _in_scope(Reservation.unit_id, scope))
            .group_by(Reservation.unit_id, Reservation.category)):
        if (unit_id, category) in lines:
            lines[(unit_id, category)]["reserved"] = int(n or 0)
    later = (select(ChronicleEntry.unit_id, ChronicleEntry.delta)
             .where(ChronicleEntry.at > moment, ChronicleEntry.delta.is_not(None),
                    ChronicleEntry.unit_id.is_not(None), _in_scope(ChronicleEntry.unit_id, scope))
             .execution_options(yield_per=1000))
    for unit_id, delta in db.session.execute(later):
        if not isinstance(delta, dict) or "category" not in delta:
            continue
        line = lines.setdefault((unit_id, delta["category"]), {"category": delta["category"], "approved": 0,
                                                                "on_roll": 0, "reserved": 0})
        for key in ("approved", "on_roll", "reserved"):
            line[key] -= delta.get(key, 0)
    for line in lines.values():
        line["vacancy"] = line["approved"] - line["on_roll"] - line["reserved"]
        line["warning"] = warning(line["approved"], line["on_roll"], line["vacancy"])
    return lines


def _units(scope):
    where = (scope or jurisdiction.EVERYTHING).unit_clause()
    return {u.id: u for u in db.session.scalars(select(Unit).where(where).order_by(Unit.code))}


def _sum_lines(lines):
    total = {"approved": 0, "on_roll": 0, "reserved": 0, "vacancy": 0}
    for line in lines:
        for key in total:
            total[key] += line[key]
    return total


def _figure_rows(groups, label):
    rows = []
    for name in sorted(groups):
        t = _sum_lines(groups[name])
        rows.append([name, t["approved"], t["on_roll"], t["reserved"], t["vacancy"]])
    total = _sum_lines([line for lines in groups.values() for line in lines])
    if rows:
        rows.append(["合计", total["approved"], total["on_roll"], total["reserved"], total["vacancy"]])
    return rows


FIGURE_HEADER = ["核定数", "在编", "已预留", "空编"]


def _common_prefix(names):
    """The part all unit names share (绍兴市柯桥区…), left out of chart labels; none for one name."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def existed(unit, day):
    """Whether the unit stood on `day`: founded by then (when known) and not yet abolished."""
    if unit.founded is not None and unit.founded > day:
        return False
    return unit.abolished_on is None or unit.abolished_on > day


def ledger_table(scope, day):
    """Per unit and category on `day`: approved, on roll, reserved, vacancy, warning."""
    units = _units(scope)
    lines = district_figures_as_of(end_of_day(day), scope)
    rows = []
    for (unit_id, _category), line in sorted(lines.items(), key=lambda kv: (units[kv[0][0]].code, kv[0][1])):
        unit = units[unit_id]
        if not existed(unit, day) and not any(line[k] for k in ("approved", "on_roll", "reserved")):
            continue  # founded later or abolished by then, with nothing left on its lines
        rows.append([unit.code, unit.name, line["category"], line["approved"], line["on_roll"], line["reserved"],
                     line["vacancy"], WARNING_TEXT[line["warning"]]])
    total = _sum_lines(lines.values())
    per_unit = {}  # the chart: one bar pair per unit, its categories added up
    for row in rows:
        line = per_unit.setdefault(row[0], ["", "", "", 0, 0])
        line[1] = row[1]
        line[3] += row[3]
        line[4] += row[4]
    prefix = _common_prefix([line[1] for line in per_unit.values()])
    for line in per_unit.values():
        line[1] = line[1][len(prefix):]
    if rows:
        rows.append(["合计", "", "", total["approved"], total["on_roll"], total["reserved"], total["vacancy"], ""])
    return Table("ledger", f"编制台账（截至 {day.isoformat()}）",
                 ["统一社会信用代码", "单位", "编制类型", *FIGURE_HEADER, "预警"], rows, chart="bar", label_col=1,
                 series=[3, 4], chart_rows=list(per_unit.values()), note="按沿革记录回溯：当日之后的每一次台账变动按其增减量倒推；当日尚未设立或已撤销的单位不列出。")


# -- the overview page: establishment and staff structure on a date ----------------------------

def on_roll_at(day):
    """People on the roll on `day`: entered on or before it and not left by then."""
    return (Person.entry_date <= day) & or_(Person.left_date.is_(None), Person.left_date > day)


def _years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band(day):
    """The SQL age band at `day` from the birth date (full years)."""
    b = Person.birth_date
    return case((b > _years_before(day, 31), AGE_BANDS[0]), (b > _years_before(day, 41), AGE_BANDS[1]),
                (b > _years_before(day, 51), AGE_BANDS[2]), (b > _years_before(day, 56), AGE_BANDS[3]),
                else_=AGE_BANDS[4])


def _count_by(expr, day, scope):
    label = expr.label("k")
    query = (select(label, func.count()).where(on_roll_at(day), _in_scope(Person.unit_id, scope))
             .group_by(label))
    return {k: n for k, n in db.session.execute(query)}


def _share_rows(counts, order=None):
    total = sum(counts.values())
    keys = list(order) if order else sorted(counts, key=lambda k: (-counts[k], k))
    rows = [[k, counts.get(k, 0), f"{counts.get(k, 0) * 100 / total:.1f}%" if total else "0.0%"] for k in keys]
    if rows:
        rows.append(["合计", total, "100.0%" if total else "0.0%"])
    return rows


def overview_tables(scope, day):
    units = _units(scope)
    lines = district_figures_as_of(end_of_day(day), scope)
    by_system, by_category = {}, {}
    for (unit_id, category), line in lines.items():
        by_system.setdefault(units[unit_id].system or "未分类", []).append(line)
        by_category.setdefault(category, []).append(line)
    tables = [
        Table("system", "按系统类别：编制与实有", ["系统类别", *FIGURE_HEADER], _figure_rows(by_system, "系统类别"),
              chart="bar", series=[1, 2, 3, 4]),
        Table("category", "按编制类型：编制与实有", ["编制类型", *FIGURE_HEADER], _figure_rows(by_category, "编制类型"),
              chart="bar", series=[1, 2, 3, 4]),
    ]
    sex = _count_by(func.coalesce(func.nullif(Person.sex, ""), "未填"), day, scope)
    tables.append(Table("sex", "在编人员性别结构", ["性别", "人数", "占比"],
                        _share_rows(sex, [k for k in ("男", "女") if k in sex] + sorted(set(sex) - {"男", "女"})),
                        chart="pie", series=[1]))
    ages = _count_by(age_band(day), day, scope)
    tables.append(Table("age", "在编人员年龄结构", ["年龄段", "人数", "占比"], _share_rows(ages, AGE_BANDS),
                        chart="bar", series=[1],
                        note=f"年龄按 {day.isoformat()} 的周岁计：30岁及以下、31–40岁、41–50岁、51–55岁、56岁及以上。"))
    education = _count_by(func.coalesce(Person.education, "未填"), day, scope)
    tables.append(Table("education", "在编人员学历结构", ["学历", "人数", "占比"], _share_rows(education),
                        chart="pie", series=[1]))
    posts = _count_by(func.coalesce(Person.post, "未填"), day, scope)
    tables.append(Table("post", "在编人员职务（职级）结构", ["职务", "人数", "占比"], _share_rows(posts),
                        chart="bar", series=[1]))
    post_types = _count_by(func.coalesce(Person.details["post_type"].as_string(), "未填"), day, scope)
    tables.append(Table("post_type", "在编人员岗位类别结构", ["岗位类别", "人数", "占比"], _share_rows(post_types),
                        chart="pie", series=[1], note="岗位类别（管理、专技、工勤）取自人员信息。"))
    classes = _count_by(func.coalesce(Person.details["person_class"].as_string(), "未填"), day, scope)
    tables.append(Table("person_class", "在编人员领导职务结构", ["人员分类", "人数", "占比"], _share_rows(classes),
                        chart="bar", series=[1], note="人员分类（部门正职、部门副职、内设正职、内设副职、非领导）取自人员信息。"))
    tables.append(_leadership_table(day, scope))
    return tables


def _leadership_table(day, scope):
    held = _count_by(func.coalesce(Person.midlevel_post, "非中层"), day, scope)
    approved = {(kind, level): int(n or 0) for kind, level, n in db.session.execute(
        select(PostQuota.kind, PostQuota.level, func.sum(PostQuota.approved))
        .where(_in_scope(PostQuota.unit_id, scope)).group_by(PostQuota.kind, PostQuota.level))}
    rows = []
    for level in ("正职", "副职"):
        rows.append([f"领导职数·{level}", approved.get(("leadership", level), 0), "—", "—"])
    for level in ("正职", "副职"):
        n, filled = approved.get(("midlevel", level), 0), held.get(level, 0)
        rows.append([f"中层职数·{level}", n, filled, n - filled])
    rows.append(["非中层职务人员", "—", held.get("非中层", 0), "—"])
    return Table("leadership", "领导职数与中层职数配备", ["职数", "核定", "实配", "空缺"], rows, chart="bar",
                 series=[1, 2], chart_skip=("非中层职务人员",), note="中层实配按在编人员当前的中层职务记录；领导职务配备未在台账中逐人记录。")


# -- changes over a period ---------------------------------------------------------------------

CHANGE_ITEMS = ["机构设立", "机构更名", "隶属关系调整", "机构合并", "机构撤销", "编制核增核减", "编制划出", "编制划入",
                "人员进编", "人员出编"]
UNIT_EVENTS = {"create": "机构设立", "rename": "机构更名", "move": "隶属关系调整", "merge": "机构合并",
               "abolish": "机构撤销"}
CHANGE_ACTIONS = {"unit": tuple(UNIT_EVENTS), "establishment": ("adjust", "transfer"),
                  "person": ("register", "import", "exit")}


def _figures_moved(delta):
    return any(delta.get(k) for k in ("approved", "on_roll", "reserved"))


def change_item(entity, action, delta):
    """(item, month column, net change) of one chronicle entry, or None when it is not an event
    of its own: a unit event (设立, 合并 …) is its entry without figures — a merge also writes one
    entry per category moved, which are its figures, not more merges."""
    if entity == "unit":
        return None if _figures_moved(delta) else (UNIT_EVENTS[action], "机构变动", None)
    if entity == "establishment":
        approved = int(delta.get("approved", 0) or 0)
        item = "编制核增核减" if action == "adjust" else "编制划出" if approved < 0 else "编制划入"
        return item, "编制变动", approved
    on_roll = int(delta.get("on_roll", 0) or 0)
    return ("人员出编", "出编", on_roll) if action == "exit" else ("人员进编", "进编", on_roll)


def change_tables(scope, start, end):
    """Unit, establishment and people changes recorded in the chronicle between the Beijing dates
    `start` and `end` (both included): per item with the net change of places or people, and per
    month. Each side of a transfer counts on its own unit (划出 / 划入)."""
    wanted = or_(*((ChronicleEntry.entity == e) & ChronicleEntry.action.in_(a) for e, a in CHANGE_ACTIONS.items()))
    query = (select(ChronicleEntry.entity, ChronicleEntry.action, ChronicleEntry.at, ChronicleEntry.delta)
             .where(ChronicleEntry.at >= clock.at_local(start), ChronicleEntry.at <= end_of_day(end), wanted,
                    _in_scope(ChronicleEntry.unit_id, scope)).execution_options(yield_per=1000))
    counts, nets, months = {}, {}, {}
    for entity, action, at, delta in db.session.execute(query):
        item = change_item(entity, action, delta if isinstance(delta, dict) else {})
        if item is None:
            continue
        label, column, net = item
        counts[label] = counts.get(label, 0) + 1
        if net is not None:
            nets[label] = nets.get(label, 0) + net
        month = months.setdefault(clock.local_date(at).strftime("%Y-%m"), {})
        month[column] = month.get(column, 0) + 1
    rows = [[label, counts.get(label, 0), "—" if label in UNIT_EVENTS.values() else nets.get(label, 0)]
            for label in CHANGE_ITEMS]
    columns = ["机构变动", "编制变动", "进编", "出编"]
    month_rows = [[m, *(months[m].get(c, 0) for c in columns)] for m in sorted(months)]
    if month_rows:
        month_rows.append(["合计", *(sum(months[m].get(c, 0) for m in months) for c in columns)])
    span = f"{start.isoformat()} 至 {end.isoformat()}"
    return [
        Table("changes", f"机构编制变动情况（{span}）", ["变动事项", "件数", "编制/人数增减"], rows, chart="bar",
              series=[1], note="编制增减为核定数的净变化，进出编为在编人数的净变化；来自沿革记录。"
                               "编制划转在划出、划入单位各计一次。"),
        Table("changes_monthly", f"按月变动（{span}）", ["月份", *columns], month_rows, chart="stacked",
              series=[1, 2, 3, 4]),
    ]


# -- Excel --------------------------------------------------------------------------------------

def _sheet_title(title, used):
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "表"
    base, n = name, 2
    while name in used:
        name, n = f"{base[:26]}{n}", n + 1
    used.add(name)
    return name


def workbook(tables, scope_label=None):
    """An .xlsx with one sheet per table (title row with the jurisdiction beside the title,
    header, rows; every text cell neutralised)."""
    out = io.BytesIO()
    book = XlsxWriter(out)
    used = set()
    for table in tables:
        sheet = book.sheet(_sheet_title(table.title, used))
        sheet.append([table.title, f"范围：{scope_label}"] if scope_label else [table.title])
        sheet.append(table.header)
        for row in table.rows:
            sheet.append(row)
        if table.note:
            sheet.append(["说明：" + table.note])
    book.close()
    out.seek(0)
    return out
