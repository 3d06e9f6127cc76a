"""四清两对应 reconciliation: units, establishment, people and posts clear (机构清、编制清、人员清、
职数清); people ↔ establishment and finance-paid head count ↔ establishment (人编对应、财编对应).

Every mismatch is one Finding: unit, check, item, expected, actual and the cause in Chinese.
The district report reads each table once (grouped by unit), so 500 units cost a handful of
queries, not thousands."""
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import func, select

from ..audit.operations import record as audit
from ..cases.models import Case
from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from .. import clock
from .models import (CATEGORIES, Absorption, Department, Establishment, FinanceHeadcount, Person, PostQuota,
                     Reservation, Unit)
from .operations import in_jurisdiction

CHECKS = {
    "unit": "机构清",
    "establishment": "编制清",
    "people": "人员清",
    "posts": "职数清",
    "people_establishment": "人编对应",
    "finance_establishment": "财编对应",
}


@dataclass
class Finding:
    unit_code: str
    unit_name: str
    check: str  # a CHECKS key
    item: str
    expected: str
    actual: str
    cause: str

    @property
    def check_label(self):
        return CHECKS[self.check]

    def as_json(self):
        return {**asdict(self), "check_label": self.check_label}


def active_units(unit=None, within=None):
    """The units reconciled: `unit` alone, else every active unit of `within` (a WHERE clause on
    Unit, e.g. ledger.operations.in_jurisdiction(user): the reader's jurisdiction; None: all)."""
    query = select(Unit).order_by(Unit.code)
    if hasattr(Unit, "status"):  # units abolished by the unit-lifecycle process are not reconciled
        query = query.where(Unit.status == "active")
    if unit is not None:
        query = query.where(Unit.id == unit.id)
    if within is not None:
        query = query.where(within)
    return db.session.scalars(query).all()


def _grouped(query):
    out = defaultdict(dict)
    for unit_id, key, value in db.session.execute(query):
        out[unit_id][key] = int(value or 0)
    return out


def latest_finance(unit_ids=None):
    """{unit id: {category: (paid, as_of, source)}} from the newest report of each line (of the
    units `unit_ids`, None: all)."""
    newest = select(FinanceHeadcount.unit_id, FinanceHeadcount.category,
                    func.max(FinanceHeadcount.as_of).label("as_of"))
    if unit_ids is not None:
        newest = newest.where(FinanceHeadcount.unit_id.in_(unit_ids))
    newest = newest.group_by(FinanceHeadcount.unit_id, FinanceHeadcount.category).subquery()
    rows = db.session.execute(select(FinanceHeadcount).join(newest, (FinanceHeadcount.unit_id == newest.c.unit_id)
                                                              & (FinanceHeadcount.category == newest.c.category)
                                                              & (FinanceHeadcount.as_of == newest.c.as_of)))
    out = defaultdict(dict)
    for (line,) in rows:
        out[line.unit_id][line.category] = (line.paid, line.as_of, line.source)
    return out


def reconcile(unit=None, within=None):
    """The findings for one unit, or for every unit of `within` (the reader's jurisdiction, a
    WHERE clause on Unit; None: the whole installation) when `unit` is None, in unit order."""
    units = active_units(unit, within)
    scope = [u.id for u in units]
    if not scope:
        return []
    approved = _grouped(select(Establishment.unit_id, Establishment.category, Establishment.approved)
                        .where(Establishment.unit_id.in_(scope)))
    on_roll = _grouped(select(Person.unit_id, Person.category, func.count())
                       .where(Person.status == "on_roll", Person.unit_id.in_(scope))
                       .group_by(Person.unit_id, Person.category))
    reserved = _grouped(select(Reservation.unit_id, Reservation.category,
                               func.sum(Reservation.count - Reservation.used))
                        .where(Reservation.status == "active", Reservation.unit_id.in_(scope))
                        .group_by(Reservation.unit_id, Reservation.category))
    posts = _grouped(select(PostQuota.unit_id, PostQuota.level, PostQuota.approved)
                     .where(PostQuota.kind == "midlevel", PostQuota.unit_id.in_(scope)))
    filled = _grouped(select(Person.unit_id, Person.midlevel_post, func.count())
                      .where(Person.status == "on_roll", Person.midlevel_post.is_not(None), Person.unit_id.in_(scope))
                      .group_by(Person.unit_id, Person.midlevel_post))
    stale = defaultdict(list)  # reservations still held by cases that ended without using them
    for res, number, state in db.session.execute(
            select(Reservation, Case.number, Case.state).join(Case, Case.id == Reservation.case_id)
            .where(Reservation.status == "active", Reservation.kind == "case", Reservation.unit_id.in_(scope),
                   Case.state.in_(("rejected", "withdrawn", "completed")))):
        stale[res.unit_id].append((res, number, state))
    foreign_dept = defaultdict(list)
    for person, dept_unit in db.session.execute(
            select(Person, Unit.name).join(Department, Department.id == Person.department_id)
            .join(Unit, Unit.id == Department.unit_id)
            .where(Person.status == "on_roll", Department.unit_id != Person.unit_id, Person.unit_id.in_(scope))
            .order_by(Person.code)):
        foreign_dept[person.unit_id].append((person, dept_unit))
    absorbing = {(a.unit_id, a.category): a for a in db.session.scalars(
        select(Absorption).where(Absorption.status == "open", Absorption.unit_id.in_(scope)).order_by(Absorption.id))}
    today = clock.today()
    finance = latest_finance(scope)
    # 财编对应 is checked for a unit once the finance bureau serving its office has reported any line
    reported = set(db.session.scalars(
        select(Unit.office_id).join(FinanceHeadcount, FinanceHeadcount.unit_id == Unit.id)
        .where(Unit.office_id.in_({u.office_id for u in units})).distinct()))

    findings = []
    for u in units:
        def add(check, item, expected, actual, cause, u=u):
            findings.append(Finding(u.code, u.name, check, item, str(expected), str(actual), cause))

        # 机构清: the unit as set up matches an approval
        if not u.approval_doc:
            add("unit", "批准文号", "有批准设立文件", "未登记", "机构未登记批准设立文号，无法与批准文件对应")
        if u.founded is None:
            add("unit", "成立时间", "有成立时间", "未登记", "机构未登记成立时间")
        if u.parent_id is not None and u.parent_id not in scope and unit is None:
            add("unit", "上级单位", "在用单位", "上级单位已撤销或不存在", "上级单位不在在用机构中，隶属关系需核实")
        if not approved[u.id] and on_roll[u.id]:
            add("unit", "核定编制", "有核定编制", "无", "机构未核定任何编制却有在编人员")

        # 编制清 and 人编对应: per category, on roll and reserved within the approved establishment
        for category in sorted(set(approved[u.id]) | set(on_roll[u.id]) | set(reserved[u.id]), key=_category_order):
            a, n, r = approved[u.id].get(category), on_roll[u.id].get(category, 0), reserved[u.id].get(category, 0)
            if a is None:
                if n:
                    add("people_establishment", category, "核定 0 名", f"在编 {n} 名",
                        f"在编人员的编制类型「{category}」本单位未核定，人员与编制对应不上")
                if r:
                    add("establishment", category, "核定 0 名", f"预留 {r} 名", f"本单位未核定{category}却有预留")
                continue
            plan = _absorption(absorbing.get((u.id, category)), today)
            if n > a:
                add("people_establishment", category, f"核定 {a} 名", f"在编 {n} 名",
                    f"超编 {n - a} 名：在编人数超过核定编制，" + (plan or "无消化安排；须按“出一进一”逐步消化，不得再进人"))
            elif n + r > a:
                add("establishment", category, f"空编 {a - n} 名", f"预留 {r} 名",
                    f"预留超出空编 {n + r - a} 名：已核准的用编计划或空编使用多于剩余空编" + (f"；{plan}" if plan else ""))
        for res, number, state in stale[u.id]:
            add("establishment", res.category, "案件办结后释放预留", f"仍预留 {res.count - res.used} 名",
                f"案件 {number} 已{ {'rejected': '不予通过', 'withdrawn': '撤回', 'completed': '办结'}[state] }，预留未释放")

        # 职数清: mid-level posts filled within the approved count
        for level in sorted(set(posts[u.id]) | set(filled[u.id])):
            a, n = posts[u.id].get(level, 0), filled[u.id].get(level, 0)
            if n > a:
                add("posts", f"中层{level}", f"核定 {a} 名", f"已配 {n} 名",
                    f"超职数 {n - a} 名：中层{level}配备超过核定职数")

        # 人员清: each person sits in a department of their own unit
        for person, dept_unit in foreign_dept[u.id]:
            add("people", f"{person.name}（{person.code}）", f"本单位内设机构", f"{dept_unit}的内设机构",
                "人员所在内设机构属于其他单位，在编单位与所在机构不一致")

        # 财编对应: the finance bureau pays for the people on roll, within the establishment
        if u.office_id in reported and u.funding != "自收自支":
            lines = finance.get(u.id, {})
            for category in sorted(set(lines) | set(on_roll[u.id]), key=_category_order):
                n = on_roll[u.id].get(category, 0)
                if category not in lines:
                    add("finance_establishment", category, f"财供 {n} 名", "财政未报",
                        "财政未报送该类财供人数，无法与在编人数对应")
                    continue
                paid, as_of, source = lines[category]
                a = approved[u.id].get(category, 0)
                if paid > a:
                    add("finance_establishment", category, f"核定 {a} 名", f"财供 {paid} 名",
                        f"财供人数超过核定编制 {paid - a} 名（{source}，{as_of.isoformat()}）")
                if paid != n:
                    more = "多于" if paid > n else "少于"
                    add("finance_establishment", category, f"在编 {n} 名", f"财供 {paid} 名",
                        f"财供人数{more}在编人数 {abs(paid - n)} 名（{source}，{as_of.isoformat()}）："
                        + ("可能有出编人员仍在财政供养" if paid > n else "可能有在编人员未纳入财政供养"))
    return findings


def _absorption(rec, today):
    """The cause's second half when an absorption (消化) was decided for the line."""
    if rec is None:
        return None
    late = "，已逾期" if rec.target_date < today else ""
    return f"已按{rec.document}安排消化（决定时超出 {rec.excess} 名），期限 {rec.target_date.isoformat()}{late}"


def _category_order(category):
    return (CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES), category)


def summary(findings):
    """{check key: count} in CHECKS order, and the number of units with any finding."""
    counts = {key: 0 for key in CHECKS}
    for f in findings:
        counts[f.check] += 1
    return counts, len({f.unit_code for f in findings})


def report_paid_headcounts(user, lines, as_of, source):
    """The finance bureau reports 财供人数 (`lines`: [{"unit": code, "category", "paid"}]) as of a
    date; a line already reported for that date is replaced. Returns the number of lines. The
    lines may name only units of the jurisdiction of the office the account serves (a district's
    finance bureau pays that district's units; ledger.operations.office_ids)."""
    if not user.has_role("finance", "admin"):
        raise Forbidden("只有财政接口账号和系统管理员可以报送财供人数")
    errors = {}
    if not isinstance(as_of, str):
        errors["as_of"] = ["必填，格式 YYYY-MM-DD"]
    else:
        try:
            as_of = date.fromisoformat(as_of)
        except ValueError:
            errors["as_of"] = ["日期格式应为 YYYY-MM-DD"]
    if not isinstance(source, str) or not source.strip() or len(source) > 64:
        errors["source"] = ["必填，不超过 64 个字，如「区财政局 2026 年 11 月工资发放」"]
    if not isinstance(lines, list) or not lines:
        errors["lines"] = ["至少一行：{unit, category, paid}"]
    if errors:
        raise ValidationFailed("财供人数报送内容有误", fields=errors)
    units = {u.code: u for u in db.session.scalars(select(Unit).where(in_jurisdiction(user)))}
    elsewhere = set(db.session.scalars(select(Unit.code).where(Unit.code.in_(
        [line.get("unit") for line in lines if isinstance(line, dict) and isinstance(line.get("unit"), str)]))))
    seen = set()
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            errors[f"lines.{i}"] = ["应为对象 {unit, category, paid}"]
            continue
        problems = []
        if line.get("unit") in elsewhere and line.get("unit") not in units:
            problems.append(f"单位 {line.get('unit')} 不属于本账号所在编办的辖区，不能报送其财供人数")
        elif line.get("unit") not in units:
            problems.append(f"没有统一社会信用代码为 {line.get('unit')} 的单位")
        if line.get("category") not in CATEGORIES:
            problems.append("编制类型应为：" + "、".join(CATEGORIES))
        paid = line.get("paid")
        if not isinstance(paid, int) or isinstance(paid, bool) or paid < 0:
            problems.append("财供人数应为非负整数")
        if (line.get("unit"), line.get("category")) in seen:
            problems.append("同一单位同一编制类型重复报送")
        seen.add((line.get("unit"), line.get("category")))
        if problems:
            errors[f"lines.{i}"] = problems
    if errors:
        raise ValidationFailed(f"财供人数有 {len(errors)} 行不正确，未保存", fields=errors)
    existing = {(h.unit_id, h.category): h for h in db.session.scalars(
        select(FinanceHeadcount).where(FinanceHeadcount.as_of == as_of))}
    for line in lines:
        unit = units[line["unit"]]
        row = existing.get((unit.id, line["category"]))
        if row is None:
            row = FinanceHeadcount(unit_id=unit.id, category=line["category"], as_of=as_of)
            db.session.add(row)
        row.paid, row.source, row.reported_by_id = line["paid"], source.strip(), user.id
    audit(user, "finance.paid_headcounts", None, as_of=as_of.isoformat(), source=source.strip(), lines=len(lines))
    db.session.flush()
    return len(lines)
