"""Pages and downloads of the ledger as a tool: the roster as Excel, the standing queries."""
from flask import Blueprint, render_template, request, send_file
from flask_login import current_user, login_required

from .. import clock
from ..audit.operations import record as audit
from ..errors import Forbidden
from ..ledger import operations as ledger
from ..web.errors import commit
from . import operations as reports

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
    if not ledger.can_view_unit(current_user, unit):
        raise Forbidden("只能导出本单位的人员花名册")
    include_left = _include_left()
    out, rows = reports.write_roster(unit, include_left)
    try:
        audit(current_user, "roster.export", f"unit:{unit.code}", ip=request.remote_addr, rows=rows,
              include_left=include_left)
        commit()  # exporting people's records is itself on the record
    except BaseException:
        out.close()
        raise
    return _send_roster(out, f"{unit.name}人员花名册.xlsx")


@bp.get("/roster.xlsx")
@login_required
def district_roster():
    include_left = _include_left()
    out, rows = reports.write_roster(None, include_left)
    try:
        audit(current_user, "roster.export", "district", ip=request.remote_addr, rows=rows, include_left=include_left)
        commit()
    except BaseException:
        out.close()
        raise
    return _send_roster(out, "全区人员花名册.xlsx")


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
    return render_template("reports/queries.html", today=today, months=months,
                           establishment=reports.establishment_exceptions(), posts=reports.post_exceptions(),
                           retiring=reports.retiring(today, months))
