"""Pages for bureau staff over the unit register (机构库): list, create, and one unit's page with
its figures, 消化 warnings, chronicle and the forms that change it. Reviewers and admins change;
leaders and auditors read (access.py). Every change needs its approving document."""
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..errors import DomainError, ValidationFailed
from ..extensions import db
from ..ledger import operations as ledger
from ..ledger import establishment as adjusting
from ..ledger import units as lifecycle
from ..ledger.models import CATEGORIES, FUNDING, ChronicleEntry, Department, Unit
from ..web.transaction import refused

bp = Blueprint("registers", __name__, url_prefix="/registers")
CHRONICLE_SHOWN = 200
STATUS_LABELS = {"active": "存续", "abolished": "已撤销"}


def form_values():
    values = {k: v.strip() for k, v in request.form.items()}
    pdf = request.files.get("doc_pdf")
    values["doc_pdf"] = pdf if pdf is not None and pdf.filename else None
    return values


def as_int(values, key, label):
    try:
        return int(values.get(key, ""))
    except ValueError:
        raise ValidationFailed(f"{label}应为整数", fields={key: ["应为整数"]}) from None


def as_date(values, key):
    text = values.get(key) or ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", fields={key: ["日期格式应为 YYYY-MM-DD"]}) from None


def unit_named(values, key, label, user=None):
    """The unit a form names by code, among those of the user's jurisdiction (another office's
    unit is answered as one that does not exist)."""
    code = (values.get(key) or "").strip().upper()
    if not code:
        raise ValidationFailed(f"请选择{label}", fields={key: ["必填"]})
    unit = db.session.scalar(select(Unit).where(Unit.code == code, ledger.visible_units(user or current_user)))
    if unit is None:
        raise ValidationFailed(f"没有统一社会信用代码为 {code} 的单位", fields={key: ["单位不存在"]})
    return unit


def _unit(code):
    """The unit `code` of the reader's jurisdiction; 404 for another office's (as for none)."""
    return ledger.visible_unit(current_user, code)


def _detail(unit, errors=None, status=200, values=None):
    entries = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.unit_id == unit.id)
                                 .order_by(ChronicleEntry.at.desc(), ChronicleEntry.id.desc())
                                 .limit(CHRONICLE_SHOWN)).all()
    departments = db.session.scalars(select(Department).where(Department.unit_id == unit.id)
                                     .order_by(Department.id)).all()
    children = db.session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code)).all()
    others = db.session.scalars(lifecycle.active_units().where(Unit.id != unit.id,
                                                               ledger.visible_units(current_user))).all()
    return render_template("registers/unit.html", unit=unit, figures=ledger.figures(unit),
                           post_figures=ledger.post_figures(unit), absorptions=lifecycle.absorption_warnings(unit),
                           departments=departments, children=children, entries=entries, others=others,
                           categories=CATEGORIES, editable=unit.status == "active",
                           errors=errors or {}, values=values or {}, status_labels=STATUS_LABELS), status


@bp.get("/units")
@login_required
def units():
    status = request.args.get("status", "active")
    query = select(Unit).where(ledger.visible_units(current_user)).order_by(Unit.code)
    if status in STATUS_LABELS:
        query = query.where(Unit.status == status)
    rows = db.session.scalars(query).all()
    return render_template("registers/units.html", units=[(u, ledger.figures(u)) for u in rows], status=status,
                           status_labels=STATUS_LABELS)


@bp.route("/units/new", methods=["GET", "POST"])
@login_required
def create():
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values = form_values()
        try:
            approval = lifecycle.approval_from(values, default_title=f"关于设立{values.get('name', '')}的批复")
            parent = unit_named(values, "parent", "上级单位") if values.get("parent") else None
            unit = lifecycle.create_unit(current_user, approval, values.get("code"), values.get("name"),
                                         values.get("kind"), parent=parent, level=values.get("level"),
                                         nature=values.get("nature"), funding=values.get("funding"),
                                         system=values.get("system"), functions=values.get("functions"),
                                         ip=request.remote_addr)
            code = unit.code
        except DomainError as exc:
            refused(exc)
            flash(exc.message, "error")
            errors, status = exc.fields, exc.status
        else:
            flash(f"已设立单位 {values.get('name')}", "success")
            return redirect(url_for("registers.unit", code=code))
    parents = db.session.scalars(lifecycle.active_units().where(ledger.visible_units(current_user))).all()
    return render_template("registers/new.html", values=values, errors=errors, parents=parents,
                           funding=FUNDING, kinds=lifecycle.KINDS), status


@bp.get("/units/<code>")
@login_required
def unit(code):
    return _detail(_unit(code))


def _change(code, do):
    """Run one change from a posted form: `do(unit, values, approval)` returns the message and
    the unit to show next (the rule writes the chronicle and the audit entry). A refusal shows the
    unit's page again with the message."""
    unit_obj = _unit(code)
    values = form_values()
    try:
        approval = lifecycle.approval_from(values, default_title=f"{unit_obj.name}机构编制事项批复")
        message, shown = do(unit_obj, values, approval)
        target = shown.code
    except DomainError as exc:
        refused(exc)  # the page is drawn again from the unit as it was
        flash(exc.message, "error")
        return _detail(_unit(code), errors=exc.fields, status=exc.status, values=values)
    flash(message, "success")
    return redirect(url_for("registers.unit", code=target))


@bp.post("/units/<code>/rename")
@login_required
def rename(code):
    def do(unit, values, approval):
        lifecycle.rename_unit(current_user, unit, values.get("name"), approval, ip=request.remote_addr)
        return f"已更名为 {unit.name}", unit
    return _change(code, do)


@bp.post("/units/<code>/move")
@login_required
def move(code):
    def do(unit, values, approval):
        parent = unit_named(values, "parent", "上级单位") if values.get("parent") else None
        lifecycle.move_unit(current_user, unit, parent, approval, ip=request.remote_addr)
        return "已调整隶属关系", unit
    return _change(code, do)


@bp.post("/units/<code>/merge")
@login_required
def merge(code):
    def do(unit, values, approval):
        target = unit_named(values, "target", "并入单位")
        lifecycle.merge_units(current_user, unit, target, approval, ip=request.remote_addr)
        return f"{unit.name}已并入{target.name}", target
    return _change(code, do)


@bp.post("/units/<code>/abolish")
@login_required
def abolish(code):
    def do(unit, values, approval):
        lifecycle.abolish_unit(current_user, unit, approval, ip=request.remote_addr)
        return f"已撤销 {unit.name}", unit
    return _change(code, do)


@bp.post("/units/<code>/establishment")
@login_required
def establishment(code):
    def do(unit, values, approval):
        approved = as_int(values, "approved", "核定数")
        absorb = as_date(values, "absorb_until") if values.get("absorb") else None
        if values.get("absorb") and absorb is None:
            raise ValidationFailed("选择超编消化时须填写消化期限", fields={"absorb_until": ["必填"]})
        adjusting.adjust_establishment(current_user, unit, values.get("category"), approved, approval, absorb,
                                       ip=request.remote_addr)
        return f"{values.get('category')}核定数已调整为 {approved} 名", unit
    return _change(code, do)


@bp.post("/units/<code>/transfer")
@login_required
def transfer(code):
    def do(unit, values, approval):
        target = unit_named(values, "target", "划入单位")
        count = as_int(values, "count", "划转数")
        absorb = as_date(values, "absorb_until") if values.get("absorb") else None
        if values.get("absorb") and absorb is None:
            raise ValidationFailed("选择超编消化时须填写消化期限", fields={"absorb_until": ["必填"]})
        adjusting.transfer_establishment(current_user, unit, target, values.get("category"), count, approval, absorb,
                                         ip=request.remote_addr)
        return f"已将{values.get('category')} {count} 名划转至{target.name}", unit
    return _change(code, do)


@bp.post("/units/<code>/posts")
@login_required
def posts(code):
    def do(unit, values, approval):
        approved = as_int(values, "approved", "职数")
        adjusting.adjust_post_quota(current_user, unit, values.get("kind"), values.get("level"), approved, approval,
                                    ip=request.remote_addr)
        return "职数已调整", unit
    return _change(code, do)


@bp.post("/units/<code>/departments")
@login_required
def departments(code):
    def do(unit, values, approval):
        action = values.get("action")
        if action == "add":
            adjusting.add_department(current_user, unit, values.get("name"), approval, ip=request.remote_addr)
            return f"已设立内设机构 {values.get('name')}", unit
        department = as_int(values, "department", "内设机构")
        if action == "rename":
            adjusting.rename_department(current_user, unit, department, values.get("name"), approval,
                                          ip=request.remote_addr)
            return f"内设机构已更名为 {values.get('name')}", unit
        if action == "remove":
            adjusting.remove_department(current_user, unit, department, approval, ip=request.remote_addr)
            return "已撤销内设机构", unit
        raise ValidationFailed("请选择操作：设立、更名或撤销", fields={"action": ["请选择"]})
    return _change(code, do)
