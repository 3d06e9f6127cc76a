"""年审 pages: start the review for every unit (bureau), follow its progress."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import clock
from ..errors import NotFound
from ..organisation import jurisdiction
from . import operations as reviews
from ..util import key_int

bp = Blueprint("review", __name__)


@bp.get("/review")
@login_required
def index():
    year = key_int(request.args.get("year"))
    all_reviews = reviews.all_reviews(current_user)  # the reviews of the reader's jurisdiction
    review = None
    if all_reviews:
        review = reviews.get_review(year, current_user) if year else all_reviews[0]
    elif year:
        raise NotFound(f"{year} 年度尚未发起年审")
    return render_template("review/index.html", reviews=all_reviews, review=review,
                           progress=reviews.progress(review, current_user) if review else None,
                           today=clock.today(),
                           labels=reviews.STATUS_LABELS, status=request.args.get("status"),
                           scope=jurisdiction.of(current_user))


@bp.post("/review/start")
@login_required
def start():
    review = reviews.start_review(current_user, request.form.get("year"), request.form.get("deadline"),
                                  ip=request.remote_addr)
    year, units = review.year, review.units
    flash(f"已发起 {year} 年度机构编制年审，共 {units} 个单位", "success")
    return redirect(url_for("review.index", year=year))
