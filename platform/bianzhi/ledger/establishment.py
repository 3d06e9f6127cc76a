"""Establishment adjustments (核定数 by category, 划转 between units, 消化 of a knowingly kept
excess), 领导/中层职数 and 内设机构 of existing units; the unit lifecycle is in ledger/units.py.

Every change carries its approving document and is a chronicle entry, before → after, with
figure deltas ("approved") that ledger/history.figures_as_of replays. Chronicle names:
"establishment" adjust/transfer; "post_quota" adjust; "department" add/rename/remove.
Establishment lines are locked (FOR UPDATE) in id order. Rules flush, never commit, and write
their own audit entry (units.audited), whoever calls them.
"""
from datetime import date

from sqlalchemy import select

from ..documents import operations as documents
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..util import key_int
from .models import Department, Establishment, Person
from .operations import chronicle, figure, require_change_unit
from .units import (POST_KINDS, POST_LEVELS, Recorder, absorb, check_category, close_absorbed, establishment_line,
                    lock_lines, names_of, quota_line, require_active, retire_department, audited)


def adjust_establishment(user, unit, category, approved, approval, absorb_until=None, ip=None):
    """Set the approved number of `category`. A figure below on roll + reserved is refused
    unless `absorb_until` (消化 target date) is given; then a 消化 record is kept."""
    require_change_unit(user, unit)
    require_active(unit)
    check_category(category)
    if not isinstance(approved, int) or isinstance(approved, bool) or approved < 0 or approved > 100000:
        raise ValidationFailed("核定数应为 0 到 100000 之间的整数", fields={"approved": ["应为不小于 0 的整数"]})
    record = Recorder(user, approval, [unit])
    est = establishment_line(unit, category, create=True)
    lock_lines([unit.id], [category])
    fig = figure(unit, category)
    old = est.approved
    if approved == old:
        raise ValidationFailed(f"{category}核定数已是 {old} 名，没有变化", fields={"approved": ["与现核定数相同"]})
    used = fig["on_roll"] + fig["reserved"]
    if approved < used:
        absorb(user, unit, category, used - approved, absorb_until, approval,
                f"调整后{unit.name}{category}核定 {approved} 名，少于在编 {fig['on_roll']} 名与预留 {fig['reserved']} 名之和")
    est.approved = approved
    change = approved - old
    record(unit, "establishment", est.id, "adjust",
           f"{unit.name}{category}核定数由 {old} 名{'增加' if change > 0 else '核减'}为 {approved} 名",
           before={"category": category, "approved": old}, after={"category": category, "approved": approved},
           delta={"category": category, "approved": change})
    db.session.flush()
    close_absorbed(unit)
    audited(user, "establishment", unit, approval, ip=ip)
    return est


def transfer_establishment(user, source, target, category, count, approval, absorb_until=None, ip=None):
    """划转: move `count` approved places of `category` from `source` to `target`. Both lines
    are locked in id order; `source` needs that vacancy unless 消化 is chosen. The district
    total does not change."""
    require_change_unit(user, source, target)
    if source.id == target.id:
        raise ValidationFailed("划出单位与划入单位不能相同", fields={"target": ["请选择另一个单位"]})
    require_active(source, "划出单位")
    require_active(target, "划入单位")
    check_category(category)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count > 100000:
        raise ValidationFailed("划转数应为正整数", fields={"count": ["应为正整数"]})
    if establishment_line(source, category) is None:
        raise ValidationFailed(f"{source.name}没有核定{category}", fields={"category": [f"划出单位没有核定{category}"]})
    record = Recorder(user, approval, [source, target])
    into = establishment_line(target, category, create=True)
    lock_lines(sorted({source.id, target.id}), [category])
    out = establishment_line(source, category)
    fig = figure(source, category)
    if count > out.approved:
        raise ValidationFailed(f"{source.name}{category}核定仅 {out.approved} 名，不能划出 {count} 名",
                               fields={"count": [f"最多 {out.approved} 名"]})
    if count > fig["vacancy"]:
        used = fig["on_roll"] + fig["reserved"]
        absorb(user, source, category, used - (out.approved - count), absorb_until, approval,
                f"{source.name}{category}空编 {max(fig['vacancy'], 0)} 名（核定 {fig['approved']}、在编 {fig['on_roll']}、"
                f"预留 {fig['reserved']}），划出 {count} 名")
    before_out, before_in = out.approved, into.approved
    out.approved -= count
    into.approved += count
    record(source, "establishment", out.id, "transfer", f"{category} {count} 名划转至{target.name}",
           before={"category": category, "approved": before_out}, after={"category": category, "approved": out.approved,
                                                                         "to": target.code},
           delta={"category": category, "approved": -count})
    record(target, "establishment", into.id, "transfer", f"{category} {count} 名由{source.name}划入",
           before={"category": category, "approved": before_in}, after={"category": category, "approved": into.approved,
                                                                        "from": source.code},
           delta={"category": category, "approved": count})
    db.session.flush()
    close_absorbed(target)
    audited(user, "transfer", source, approval, ip=ip, to=target.code, count=count)
    return out, into


def adjust_post_quota(user, unit, kind, level, approved, approval, ip=None):
    """Set the approved 领导职数 / 中层职数 of one level; never below the people holding it."""
    require_change_unit(user, unit)
    require_active(unit)
    if kind not in POST_KINDS or level not in POST_LEVELS:
        raise ValidationFailed("请选择职数类别（领导职数/中层职数）和层级（正职/副职）",
                               fields={"kind": ["请选择"], "level": ["请选择"]})
    if not isinstance(approved, int) or isinstance(approved, bool) or approved < 0 or approved > 1000:
        raise ValidationFailed("职数应为 0 到 1000 之间的整数", fields={"approved": ["应为不小于 0 的整数"]})
    record = Recorder(user, approval, [unit])
    quota_line(unit, kind, level, create=True)
    quota = quota_line(unit, kind, level, lock=True)
    if approved == quota.approved:
        raise ValidationFailed(f"{POST_KINDS[kind]}{level}已是 {approved} 名，没有变化", fields={"approved": ["没有变化"]})
    if kind == "midlevel":
        holders = db.session.scalars(select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll",
                                                          Person.midlevel_post == level).order_by(Person.id)).all()
        if approved < len(holders):
            raise ValidationFailed(f"{unit.name}现有中层{level} {len(holders)} 人（{names_of(holders)}），"
                                   f"核定数不能少于 {len(holders)} 名；请先办理免职", fields={"approved": ["少于现任职人数"]})
    old = quota.approved
    quota.approved = approved
    record(unit, "post_quota", quota.id, "adjust", f"{unit.name}{POST_KINDS[kind]}{level}由 {old} 名调整为 {approved} 名",
           before={"kind": kind, "level": level, "approved": old},
           after={"kind": kind, "level": level, "approved": approved})
    db.session.flush()
    audited(user, "posts", unit, approval, ip=ip)
    return quota


def _department(unit, department_id):
    dept = db.session.get(Department, department_id) if key_int(department_id) is not None else None
    if dept is None or dept.unit_id != unit.id:
        raise ValidationFailed("请选择本单位的内设机构", fields={"department": ["不是本单位的内设机构"]})
    return dept


def _department_name(unit, name, except_id=None):
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValidationFailed("请填写内设机构名称（最多 64 个字）", fields={"name": ["必填，最多 64 个字"]})
    query = select(Department).where(Department.unit_id == unit.id, Department.name == name)
    if except_id:
        query = query.where(Department.id != except_id)
    if db.session.scalar(query) is not None:
        raise ValidationFailed(f"{unit.name}已有内设机构「{name}」", fields={"name": ["重名"]})
    return name


def add_department(user, unit, name, approval, ip=None):
    require_change_unit(user, unit)
    require_active(unit)
    name = _department_name(unit, name)
    dept = Department(unit_id=unit.id, name=name)
    db.session.add(dept)
    db.session.flush()
    Recorder(user, approval, [unit])(unit, "department", dept.id, "add", f"{unit.name}设立内设机构{name}",
                                      after={"name": name})
    audited(user, "departments", unit, approval, ip=ip)
    return dept


def rename_department(user, unit, department_id, name, approval, ip=None):
    require_change_unit(user, unit)
    require_active(unit)
    dept = _department(unit, department_id)
    name = _department_name(unit, name, except_id=dept.id)
    old = dept.name
    dept.name = name
    Recorder(user, approval, [unit])(unit, "department", dept.id, "rename", f"{unit.name}内设机构{old}更名为{name}",
                                      before={"name": old}, after={"name": name})
    db.session.flush()
    audited(user, "departments", unit, approval, ip=ip)
    return dept


def remove_department(user, unit, department_id, approval, ip=None):
    """Remove a department; refused while people on the roll are in it (named)."""
    require_change_unit(user, unit)
    require_active(unit)
    dept = _department(unit, department_id)
    people = db.session.scalars(select(Person).where(Person.department_id == dept.id, Person.status == "on_roll")
                                .order_by(Person.id)).all()
    if people:
        raise Conflict(f"内设机构{dept.name}仍有 {len(people)} 名在编人员：{names_of(people)}，请先调整其所在内设机构",
                       code="people_in_department")
    record = Recorder(user, approval, [unit])
    record(unit, "department", dept.id, "remove", f"{unit.name}撤销内设机构{dept.name}", before={"name": dept.name})
    retire_department(dept)
    db.session.flush()
    audited(user, "departments", unit, approval, ip=ip)
