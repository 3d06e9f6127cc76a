"""Pages and downloads of the ledger as a tool: the roster as Excel, the standing queries."""
from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from .. import clock
from ..audit.operations import record as audit
from ..errors import Forbidden, ValidationFailed
from ..ledger import operations as ledger
from ..queries.operations import scope_of
from . import operations as reports
from . import roster_file, roster_import

bp = Blueprint("reports", __name__)

MAX_MONTHS = 120


def _include_left():
    return request.args.get("include_left") in ("1", "true", "on")


def _send_roster(out, filename):
    return send_file(out, mimetype=reports.XLSX, as_attachment=True, download_name=filename, max_age=0)


@bp.get("/units/<code>/roster.xlsx")
@login_required
def unit_roster(code):
    unit = ledger.unit_by_code(code)
    scope = scope_of(current_user)  # the office's jurisdiction; a clerk: their unit and the units below it
    if not scope.covers(unit):
        raise Forbidden("只能导出本编办辖区单位的人员花名册" if scope.by_office else "只能导出本单位及下属单位的人员花名册")
    include_left = _include_left()
    out, rows = reports.write_roster(unit, include_left, current_user)
    try:  # exporting people's records is itself on the record (committed before the file leaves)
        audit(current_user, "roster.export", f"unit:{unit.code}", ip=request.remote_addr, rows=rows,
              include_left=include_left)
    except BaseException:
        out.close()
        raise
    return _send_roster(out, f"{unit.name}人员花名册.xlsx")


@bp.get("/roster.xlsx")
@login_required
def district_roster():
    include_left = _include_left()
    scope = scope_of(current_user)  # every unit of the reader's office's jurisdiction
    out, rows = reports.write_roster(None, include_left, current_user, scope)
    try:
        audit(current_user, "roster.export", "district", ip=request.remote_addr, rows=rows, include_left=include_left,
              scope=scope.label)
    except BaseException:
        out.close()
        raise
    return _send_roster(out, f"{scope.label}人员花名册.xlsx")


def _months():
    try:
        months = int(request.args.get("months", 12))
    except ValueError:
        months = 12
    return min(max(months, 1), MAX_MONTHS)


@bp.get("/queries")
@login_required
def queries():
    today, months = clock.today(), _months()
    scope = scope_of(current_user)  # the office's jurisdiction; a clerk: their unit and the units below it
    return render_template("reports/queries.html", today=today, months=months, scoped=not scope.by_office, scope=scope,
                           establishment=reports.establishment_exceptions(scope), posts=reports.post_exceptions(scope),
                           retiring=reports.retiring(today, months, scope))


# -- roster import (花名册导入): upload → preview → import by the worker, progress polled ------

@bp.get("/roster/import")
@login_required
def import_page():
    recent = roster_import.recent_imports(current_user)  # the imports of the user's office
    return render_template("reports/import.html", recent=recent, max_mb=roster_file.MAX_BYTES // 1024 // 1024,
                           office=current_user.office)


@bp.post("/roster/import")
@login_required
def upload_roster():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("请选择要导入的花名册文件（.xlsx）", fields={"file": ["请选择文件"]})
    content = upload.read(roster_file.MAX_BYTES + 1)
    job = roster_import.preview(current_user, upload.filename, content, ip=request.remote_addr)
    number = job.id
    return redirect(url_for("reports.import_detail", number=number))


@bp.get("/roster/imports/<int:number>")
@login_required
def import_detail(number):
    job = roster_import.get_import(number, current_user)
    return render_template("reports/import_preview.html", job=job, report=job.report or {})


@bp.post("/roster/imports/<int:number>/start")
@login_required
def start_import(number):
    job = roster_import.get_import(number, current_user)
    roster_import.queue(current_user, job, valid_only=request.form.get("mode") == "valid")
    flash("已开始导入，请稍候", "success")
    return redirect(url_for("reports.import_detail", number=number))


@bp.get("/roster/imports/<int:number>/status.json")
@login_required
def import_status(number):
    return jsonify(roster_import.status(roster_import.get_import(number, current_user)))
