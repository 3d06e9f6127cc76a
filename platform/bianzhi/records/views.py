"""Pages of the person records (人员信息) and of the reconciliation (四清两对应)."""
from io import BytesIO

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.operations import record as audit
from ..errors import NotFound, ValidationFailed
from ..exports import XlsxWriter
from ..extensions import db
from ..ledger import operations as ledger
from ..ledger import reconcile, records
from ..ledger.models import ChronicleEntry, Department
from ..ledger.privacy import shown_id_number
from ..web.transaction import refused

bp = Blueprint("records", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_template_global()
def unit_completeness(unit):
    """For templates/unit.html: the unit's people's completeness, {person id: (percent, missing)}
    and the average."""
    per_person = records.people_completeness(unit)
    scores = [pct for pct, _ in per_person.values()]
    return per_person, (round(sum(scores) / len(scores), 1) if scores else None)


def _person_page(person, values=None, errors=None, status=200):
    history = db.session.scalars(select(ChronicleEntry).where(ChronicleEntry.entity == "person",
                                                              ChronicleEntry.entity_id == person.id)
                                 .order_by(ChronicleEntry.at.desc(), ChronicleEntry.id.desc()).limit(50)).all()
    photo = records.photo_of(person)
    score, missing = records.completeness(person, photo is not None)
    departments = db.session.scalars(select(Department.name).where(Department.unit_id == person.unit_id)
                                     .order_by(Department.id)).all()
    return render_template("people/person.html", person=person, values=values or records.current_values(person),
                           errors=errors or {}, fields=records.FIELDS, history_fields=records.history_fields, history=history,
                           photo=photo, score=score, missing=missing, departments=departments,
                           may_edit=records.may_edit(current_user, person),
                           id_number=shown_id_number(current_user, person.id_number, person.unit_id)), status


@bp.get("/people/<code>")
@login_required
def person(code):
    found = records.get_person(current_user, code)
    page = _person_page(found)
    # reading is on the record; written last, the audit chain's lock (PostgreSQL) is held only to the commit
    audit(current_user, "person.view", f"person:{found.code}", ip=request.remote_addr)
    return page


@bp.post("/people/<code>")
@login_required
def update_person(code):
    found = records.get_person(current_user, code)
    changes = {key: request.form[key] for key in records.FIELDS if key in request.form}
    try:
        entry = records.update_person(current_user, found, changes, reason=request.form.get("reason"))
    except ValidationFailed as exc:
        refused(exc)  # the page shows the record as it was, with the values typed
        found = records.get_person(current_user, code)
        flash(exc.message, "error")
        return _person_page(found, values={**records.current_values(found), **changes}, errors=exc.fields, status=422)
    flash("已保存，修改已记入沿革" if entry else "没有修改任何内容", "success" if entry else "warning")
    return redirect(url_for("records.person", code=code))


@bp.post("/people/<code>/photo")
@login_required
def upload_photo(code):
    found = records.get_person(current_user, code)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ValidationFailed("请选择照片文件", fields={"photo": ["请选择照片文件"]})
    try:
        content = upload.read(records.photo_limit() + 1)
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    records.set_photo(current_user, found, upload.filename, content)
    flash("照片已上传", "success")
    return redirect(url_for("records.person", code=code))


@bp.get("/people/<code>/photo")
@login_required
def photo(code):
    found = records.get_person(current_user, code)
    stored = records.photo_of(found)
    if stored is None:
        raise NotFound("该人员没有照片")
    response = Response(stored.content, mimetype=stored.content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/records/completeness")
@login_required
def completeness():
    return render_template("people/completeness.html",
                           rows=records.district_completeness(ledger.in_jurisdiction(current_user)),
                           expected=[records.LABELS[k] for k in records.EXPECTED])


@bp.get("/reconciliation")
@login_required
def reconciliation():
    """The reader's jurisdiction (their office and the offices below it) reconciled."""
    within = ledger.in_jurisdiction(current_user)
    findings = reconcile.reconcile(within=within)
    counts, units = reconcile.summary(findings)
    return render_template("reconciliation.html", unit=None, findings=findings, counts=counts, units_with=units,
                           checks=reconcile.CHECKS, unit_count=len(reconcile.active_units(within=within)))


@bp.get("/reconciliation/<code>")
@login_required
def unit_reconciliation(code):
    unit = ledger.visible_unit(current_user, code, "只能查看本单位的核对结果")
    findings = reconcile.reconcile(unit)
    counts, units = reconcile.summary(findings)
    return render_template("reconciliation.html", unit=unit, findings=findings, counts=counts, units_with=units,
                           checks=reconcile.CHECKS, unit_count=1)


@bp.get("/reconciliation.xlsx")
@login_required
def reconciliation_export():
    findings = reconcile.reconcile(within=ledger.in_jurisdiction(current_user))
    out = BytesIO()
    book = XlsxWriter(out)
    sheet = book.sheet("四清两对应")
    sheet.append(["统一社会信用代码", "单位", "核对项", "对象", "应为", "实为", "原因"], bold=True)
    for f in findings:
        sheet.append([f.unit_code, f.unit_name, f.check_label, f.item, f.expected, f.actual, f.cause])
    book.close()
    out.seek(0)
    audit(current_user, "reconciliation.export", "district", ip=request.remote_addr, rows=len(findings))
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name="四清两对应核对表.xlsx", max_age=0)
