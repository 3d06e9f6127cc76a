"""/api/v1/reviews: the annual review's progress for the bureau (年审进度), the units of the
caller's jurisdiction."""
from flask import Blueprint, g, jsonify, request

from ..errors import ValidationFailed
from ..extensions import csrf
from ..util import key_int
from ..review import operations as reviews
from .views import token_required

bp = Blueprint("api_review", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.get("/reviews")
@token_required
def progress():
    """?year=2026 (default: the latest review): counts by status, every unit's line, overdue units."""
    year = request.args.get("year")
    if year and key_int(year, low=1900, high=9999) is None:  # also no 64-bit overflow (fuzz)
        raise ValidationFailed("年度应为 1900 至 9999 之间的整数", fields={"year": ["年度应为整数，如 2026"]})
    review = reviews.get_review(int(year) if year else None, g.api_user)
    found = reviews.progress(review, g.api_user)  # the units of the caller's jurisdiction
    for line in found["lines"]:
        line["confirmed_at"] = line["confirmed_at"].isoformat() + "Z" if line["confirmed_at"] else None
    return jsonify({**found, "deadline": review.deadline.isoformat(),
                    "overdue": [line["unit_code"] for line in found["overdue"]]})
