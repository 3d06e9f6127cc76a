"""GET /api/v1/monitoring: the approval-monitoring figures (审批监测) as JSON, the same numbers
as the /monitoring page, under the same scope (a bureau reader: the cases of their office's
jurisdiction, or of the one office below it named by ?office=; a unit clerk: their own unit's
cases); `scope` names it."""
from flask import Blueprint, g, jsonify, request

from ..audit.operations import record
from ..extensions import csrf
from ..statistics import monitoring
from .views import token_required

bp = Blueprint("api_monitoring", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.get("/monitoring")
@token_required
def figures():
    """?from=&to=&office=&process=&unit=&step=&month=: the total and per process, step, unit and month."""
    user = g.api_user
    filters = monitoring.parse_filters(user, request.args)
    body = monitoring.report(user, filters)
    body["definitions"] = monitoring.DEFINITIONS
    record(user, "monitoring.read", "monitoring", ip=request.remote_addr, **filters.args(month=filters.month))
    return jsonify(body)
