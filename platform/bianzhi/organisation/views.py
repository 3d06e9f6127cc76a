"""组织设置: the admin's pages over their office and the offices below it — the tree, an office's
sections and members, partner departments and their users, bureau users, 归口 (one unit or many,
with a preview) and the tasks nobody holds (无人办理). Every change is an operation of
organisation.operations (checked, flushed, audited); a refusal draws the page again with the
Chinese message and nothing of the attempt is kept (web.transaction.refused)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..accounts.models import ROLES
from ..accounts.operations import create_user
from ..cases.models import OpenTask
from ..errors import DomainError, Forbidden, NotFound
from ..extensions import db
from ..web.transaction import refused
from . import operations as org
from . import routing, scope
from . import unheld as nobody
from .models import DUTIES, LEVELS

bp = Blueprint("organisation", __name__, url_prefix="/admin/organisation")


def _values():
    return {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}


def _office(code):
    """The office named in the URL, 404 when unknown, 403 unless the admin manages it."""
    office = org.office_by_code(code)
    if not org.may_manage(current_user, office):
        raise Forbidden(f"您不能管理{office.name}的组织设置")
    return office


# ---------------------------------------------------------------- the tree

def _offices_page(values=None, errors=None, status=200):
    managed = org.managed_offices(current_user)
    overview = {o.id: org.office_overview(o) for o in managed}
    top = min((o.path.count("/") for o in managed), default=0)
    depth = {o.id: o.path.count("/") - top for o in managed}  # below the admin's own office
    parents = [o for o in managed if o.level in ("province", "city")]
    _, unheld = nobody.unheld_tasks(scope.office_ids(current_user), limit=0)
    return render_template("organisation/offices.html", offices=managed, overview=overview, depth=depth,
                           parents=parents, levels=LEVELS, unheld=unheld, values=values or {},
                           errors=errors or {}), status


@bp.get("")
@login_required
def offices():
    return _offices_page()


@bp.post("/offices")
@login_required
def create_office():
    values = _values()
    try:
        parent = org.office_by_code(values.get("parent")) if values.get("parent") else None
        office = org.create_office(current_user, values.get("code"), values.get("name"), values.get("level"),
                                   parent=parent, ip=request.remote_addr)
        code, name = office.code, office.name
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
        return _offices_page(values, exc.fields, exc.status)
    flash(f"已新建{name}（{code}）", "success")
    return redirect(url_for("organisation.office", code=code))


# ---------------------------------------------------------------- one office

def _office_page(office, values=None, errors=None, status=200):
    departments = [(d, org.department_users(d)) for d in org.departments_of(office)]
    staff = org.office_staff(office)
    overview = org.office_overview(office)
    sections_by_user = {}
    for row in overview["sections"]:
        for duty, users in (("reviewer", row["reviewers"]), ("leader", row["leaders"])):
            for user in users:
                sections_by_user.setdefault(user.id, []).append(f"{row['section'].name}（{DUTIES[duty]}）")
    return render_template("organisation/office.html", office=office, overview=overview,
                           departments=departments, staff=staff, unplaced=org.unplaced_staff(),
                           sections_by_user=sections_by_user, children=org.children(office), duties=DUTIES,
                           values=values or {}, errors=errors or {}), status


def _change(code, do):
    """One change from a form of the office's page: `do(office, values)` returns the message. A
    refusal draws the page again (from the office as it was) with the message."""
    office = _office(code)
    values = _values()
    try:
        message = do(office, values)
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
        return _office_page(_office(code), values, exc.fields, exc.status)
    flash(message, "success")
    return redirect(url_for("organisation.office", code=code))


@bp.get("/offices/<code>")
@login_required
def office(code):
    return _office_page(_office(code))


@bp.post("/offices/<code>/sections")
@login_required
def create_section(code):
    def do(office, values):
        section = org.create_section(current_user, office, values.get("code"), values.get("name"),
                                     ip=request.remote_addr)
        return f"已新建科室{section.name}"
    return _change(code, do)


@bp.post("/offices/<code>/sections/delete")
@login_required
def delete_section(code):
    def do(office, values):
        section = org.section_by_code(office, values.get("section"))
        name = section.name
        org.delete_section(current_user, section, ip=request.remote_addr)
        return f"已删除科室{name}"
    return _change(code, do)


@bp.post("/offices/<code>/members")
@login_required
def add_member(code):
    def do(office, values):
        section = org.section_by_code(office, values.get("section"))
        user = org.user_by_name(values.get("username"), office)
        org.add_member(current_user, section, user, values.get("duty"), ip=request.remote_addr)
        return f"{user.display_name}已任{section.name}{DUTIES[values['duty']]}"
    return _change(code, do)


@bp.post("/offices/<code>/members/remove")
@login_required
def remove_member(code):
    def do(office, values):
        section = org.section_by_code(office, values.get("section"))
        user = org.user_by_name(values.get("username"), office)
        org.remove_member(current_user, section, user, values.get("duty"), ip=request.remote_addr)
        return f"{user.display_name}已不再是{section.name}的{DUTIES.get(values.get('duty'), '')}"
    return _change(code, do)


@bp.post("/offices/<code>/departments")
@login_required
def create_department(code):
    def do(office, values):
        dept = org.create_department(current_user, office, values.get("code"), values.get("name"),
                                     ip=request.remote_addr)
        return f"已新建联审部门{dept.name}"
    return _change(code, do)


@bp.post("/offices/<code>/departments/delete")
@login_required
def delete_department(code):
    def do(office, values):
        dept = org.department_by_code(office, values.get("department"))
        name = dept.name
        org.delete_department(current_user, dept, ip=request.remote_addr)
        return f"已删除联审部门{name}"
    return _change(code, do)


@bp.post("/offices/<code>/users/place")
@login_required
def place_user(code):
    def do(office, values):
        user = org.user_by_name(values.get("username"), office)
        dept = org.department_by_code(office, values["department"]) if values.get("department") else None
        org.place_user(current_user, user, office=office, department=dept, ip=request.remote_addr,
                       move=values.get("move") == "1")
        return f"{user.display_name}已归属{dept.name if dept else office.name}"
    return _change(code, do)


@bp.post("/offices/<code>/partners")
@login_required
def create_partner(code):
    def do(office, values):
        dept = org.department_by_code(office, values.get("department"))
        user = create_user(values.get("username", ""), request.form.get("password", ""),
                           values.get("display_name") or values.get("username"), ["partner"], actor=current_user)
        org.place_user(current_user, user, department=dept, ip=request.remote_addr)
        return f"已为{dept.name}新建账号 {user.username}"
    return _change(code, do)


# ---------------------------------------------------------------- 归口

def _units_page(office, values=None, errors=None, status=200, checked=()):
    kind = request.args.get("kind") or None
    shown = request.args.get("section") or None
    section = None
    if shown and shown != "none":
        section = org.section_by_code(office, shown)
    units = org.office_units(office, kind=kind if kind in org.UNIT_KINDS else None,
                             section=section if section is not None else shown)
    sections = {s.id: s for s in org.sections_of(office)}
    return render_template("organisation/units.html", office=office, units=units, sections=sections,
                           kinds=org.UNIT_KINDS, kind=kind, shown=shown, values=values or {},
                           errors=errors or {}, checked=set(checked)), status


def _selection(office, values):
    """The units (checked, and of the chosen kind) and the section a 归口 form names."""
    units = org.units_to_assign(office, request.form.getlist("units"), values.get("kind") or None)
    return units, org.section_by_code(office, values.get("section"))


@bp.get("/offices/<code>/units")
@login_required
def units(code):
    return _units_page(_office(code), checked=request.args.getlist("unit"))


@bp.post("/offices/<code>/units/preview")
@login_required
def preview_units(code):
    """The 归口 change as it would be: each unit's section before and after; nothing changes."""
    office = _office(code)
    values = _values()
    try:
        units, section = _selection(office, values)
        moves = org.assign_units(current_user, units, section, preview=True)
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
        return _units_page(office, values, exc.fields, exc.status, checked=request.form.getlist("units"))
    unchanged = [u for u in units if u.section_id == section.id]
    return render_template("organisation/preview.html", office=office, moves=moves, unchanged=unchanged,
                           section=section, codes=[u.code for u in units])


@bp.post("/offices/<code>/units/assign")
@login_required
def assign_units(code):
    office = _office(code)
    values = _values()
    try:
        units, section = _selection(office, values)
        moves = org.assign_units(current_user, units, section, ip=request.remote_addr)
        name = section.name
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
        return _units_page(_office(code), values, exc.fields, exc.status, checked=request.form.getlist("units"))
    flash(f"已将 {len(moves)} 个单位归口到{name}" if moves else f"所选单位已归口{name}，没有变化", "success")
    return redirect(url_for("organisation.units", code=code))


# ---------------------------------------------------------------- 无人办理

def _unheld_page(values=None, errors=None, status=200):
    tasks, total = nobody.unheld_tasks(scope.office_ids(current_user))
    candidates, reasons = {}, {}
    for task in tasks:
        reasons[task.id] = nobody.unheld_reason(task) or "开启时无人可办理"
        candidates[task.id] = nobody.assignable_users(task)
    return render_template("organisation/unheld.html", tasks=tasks, total=total, candidates=candidates,
                           reasons=reasons, where=routing.where_label, roles=ROLES, values=values or {},
                           errors=errors or {}), status


@bp.get("/unheld")
@login_required
def unheld():
    return _unheld_page()


@bp.post("/unheld/<task_id>/assign")
@login_required
def assign_task(task_id):
    task = db.session.get(OpenTask, str(task_id))
    if task is None or task.office_id not in scope.office_ids(current_user):
        raise NotFound("任务不存在、已办结或不在您管理的编办")
    values = _values()
    try:
        user = org.user_by_name(values.get("username"))
        nobody.assign_task(current_user, task, user, ip=request.remote_addr)
        message = f"已将「{task.case.number} {task.name}」指派给{user.display_name}"
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
        return _unheld_page({"task": task_id, **values}, exc.fields, exc.status)
    flash(message, "success")
    return redirect(url_for("organisation.unheld"))

