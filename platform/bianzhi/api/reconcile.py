"""The finance bureau reports the head count it pays (财供人数); the reconciliation reads it."""
from flask import Blueprint, g, jsonify

from ..extensions import csrf
from ..ledger import operations as ledger
from ..ledger import reconcile
from .views import json_body, token_required

bp = Blueprint("api_reconcile", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.put("/exchange/paid-headcounts")
@token_required
def paid_headcounts():
    """Body: {"as_of": "2026-11-01", "source": "区财政局工资统发", "lines": [{"unit", "category", "paid"}]}."""
    body = json_body()
    count = reconcile.report_paid_headcounts(g.api_user, body.get("lines"), body.get("as_of"), body.get("source"))
    return jsonify({"saved": count})


@bp.get("/reconciliation")
@token_required
def findings():
    """The 四清两对应 findings of the caller's jurisdiction (bureau readers: their office and the
    offices below it)."""
    found = reconcile.reconcile(within=ledger.in_jurisdiction(g.api_user))
    counts, units = reconcile.summary(found)
    return jsonify({"counts": counts, "units_with_findings": units, "findings": [f.as_json() for f in found]})
