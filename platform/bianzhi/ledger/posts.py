"""中层核职: appointing (任职) a person of the unit's roll to a mid-level post (中层正职 / 副职)
of one of its internal departments, or removing (免职) them from it, within the approved
mid-level count (PostQuota kind 'midlevel'). The count is checked when the unit applies
(advisory) and again under a row lock on the PostQuota line when the leader approves, so two
appointments racing for the last post give one approval and one Conflict."""
from sqlalchemy import func, select

from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..processes.registry import operation, rule, title
from .exits import (NO_FIGURES, Problems, check_own_unit, describe, left_message, lock_person, own_person,
                    person_by_code, running_case_for, set_ledger_record)
from .models import Department, Person, PostQuota
from .operations import chronicle
from .policy import setting

PROCESS_KEY = "midlevel_post"
ACTIONS = {"appoint": "任职", "remove": "免职"}


def departments_of(unit):
    return db.session.scalars(select(Department).where(Department.unit_id == unit.id)
                              .order_by(Department.id)).all()


def department_named(unit, name):
    """The unit's internal department called `name`, or a field error listing the ones it has."""
    departments = departments_of(unit)
    found = next((d for d in departments if d.name == name), None)
    if found is None:
        message = (f"本单位没有内设机构「{name}」；本单位内设机构：" + "、".join(d.name for d in departments)
                   if departments else f"本单位没有内设机构「{name}」（尚未登记任何内设机构）")
        raise ValidationFailed(message, fields={"department": [message]})
    return found


def quota_line(unit, level, lock=False):
    query = select(PostQuota).where(PostQuota.unit_id == unit.id, PostQuota.kind == "midlevel",
                                    PostQuota.level == level)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def filled(unit, level):
    """People on the unit's roll holding a mid-level post of `level` (as post_figures counts)."""
    return db.session.scalar(select(func.count()).select_from(Person).where(
        Person.unit_id == unit.id, Person.status == "on_roll", Person.midlevel_post == level))


def over_message(level, approved, held, wanted=1):
    return f"超职数：本单位核定中层{level} {approved} 名，已配 {held} 名，本次任职 {wanted} 名"


def post_name(department, level):
    return f"{department.name if department is not None else ''}中层{level}"


def current_post(person):
    return post_name(person.department, person.midlevel_post) if person.midlevel_post else None


def evaluate(unit, values, case=None, lock=False):
    """Every problem with this appointment or removal, as of now. With `lock` (the operation)
    the PostQuota line and the person are re-read under row locks first, and other running
    cases are not looked at (only the ledger decides). Returns (problems, person, department,
    quota, held)."""
    problems = Problems()
    action, level = values.get("action"), values.get("level")
    levels = setting("MIDLEVEL_LEVELS")
    quota = None
    if action not in ACTIONS:
        problems.add("action", "核职类别应为：" + "、".join(ACTIONS.values()))
    if level not in levels:
        problems.add("level", "中层职务层级应为：" + "、".join(levels))
    else:
        quota = quota_line(unit, level, lock=lock)
        if quota is None:
            problems.add("level", f"本单位没有核定中层{level}职数", code="no_post_quota")
    person = problems.collect(own_person, unit, values.get("person"))
    if person is not None and lock:
        person = lock_person(person)
    department = problems.collect(department_named, unit, values.get("department"))
    if person is not None and person.status != "on_roll":
        problems.add("person", left_message(person) + "，不在编", code="not_on_roll")
    elif person is not None:
        if action == "appoint" and person.midlevel_post:
            problems.add("person", f"{describe(person)}已任{current_post(person)}，须先免去现职再任新职",
                         code="post_held")
        if action == "remove" and department is not None and level in levels and (
                person.midlevel_post != level or person.department_id != department.id):
            now = f"现任{current_post(person)}" if person.midlevel_post else "现未任中层职务"
            problems.add("person", f"{describe(person)}未任{post_name(department, level)}（{now}），不能免职",
                         code="post_not_held")
        other = None if lock else running_case_for(PROCESS_KEY, unit, person.code, exclude=case)
        if other is not None:
            problems.add("person", f"{describe(person)}已有在办的中层核职申请 {other.number}，不能重复申请")
    held = filled(unit, level) if quota is not None else None
    if action == "appoint" and quota is not None and held + 1 > quota.approved:
        problems.add("level", over_message(level, quota.approved, held), code="over_posts")
    return problems, person, department, quota, held


def check_application(unit, values, case=None):
    problems, *_ = evaluate(unit, values, case)
    problems.raise_any("中层核职申请")


def set_post(user, case, values):
    """Record the approved appointment or removal. Raises Conflict (nothing changed) when the
    ledger no longer allows it, e.g. another appointment took the last post meanwhile."""
    unit = case.unit
    problems, person, department, quota, held = evaluate(unit, values, case, lock=True)
    if problems:
        raise Conflict(problems.first(), code=problems.codes[0], fields=problems.fields)
    action, level = values["action"], values["level"]
    previous = current_post(person)
    before = {"person": person.code, "name": person.name,
              "department": person.department.name if person.department else None,
              "midlevel_post": person.midlevel_post, "filled": held}
    details = dict(person.details or {})
    if action == "appoint":
        person.midlevel_post = level
        person.department_id = department.id
        details.update(midlevel_doc=values.get("doc_no"), midlevel_date=values.get("effective_date"))
        after_held = held + 1
    else:
        person.midlevel_post = None
        details.pop("midlevel_doc", None)
        details.pop("midlevel_date", None)
        after_held = held - 1
    person.details = details
    after = {"person": person.code, "name": person.name, "department": department.name,
             "midlevel_post": person.midlevel_post, "filled": after_held}
    verb = "任" if action == "appoint" else "免去"
    chronicle(user, case, unit, "post", person.id, action,
              f"{case.number} {person.name} {verb}{post_name(department, level)}（{values.get('doc_no', '')}）",
              before=before, after=after, delta=NO_FIGURES)
    set_ledger_record(case, {
        "action": action, "action_label": ACTIONS[action], "name": person.name, "code": person.code,
        "sex": person.sex, "category": person.category, "department": department.name, "level": level,
        "doc_no": values.get("doc_no"), "effective_date": values.get("effective_date"),
        "previous_post": previous,
        "figures": {"approved": quota.approved, "filled": after_held, "vacancy": quota.approved - after_held}})
    db.session.flush()
    return person


@title("midlevel_post")
def case_title(values):
    """A readable case title, e.g. 中层核职（张三 任职 业务一科中层正职）: for
    cases.operations._title (not wired yet)."""
    person = person_by_code(values.get("person"))
    return (f"中层核职（{person.name if person else values.get('person', '')} "
            f"{ACTIONS.get(values.get('action'), '')} {values.get('department', '')}中层{values.get('level', '')}）")


@rule("midlevel_post_application")
def midlevel_post_application(ctx, values):
    """中层核职 application: the clerk's own unit, a person on its roll, a department it has,
    within the approved count when appointing, the post actually held when removing."""
    check_own_unit(ctx.user, values)
    check_application(ctx.user.unit, values, ctx.case)


@operation("set_midlevel_post")
def set_midlevel_post(ctx, data):
    person = set_post(ctx.user, ctx.case, data)
    return {"post_person": person.code}
