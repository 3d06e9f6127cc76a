"""机构检索, open to anyone: each unit's public facts, its approved establishment by category,
its approved leadership and mid-level posts, and its internal departments.

Only approved figures are shown. On-roll counts, vacancies, reservations and warning lights are
not: in a small unit a per-category head count points at individuals (one 工勤编制 on roll is a
person), reservations come from cases still under review, and over-establishment is a matter
for supervision, not disclosure. No person record is read here at all.

The disclosure is the installation's, open whatever office a unit belongs to (a citizen of one
district may look up another's); a reader narrows it to one office's jurisdiction (its own units
and those of the offices below it) with the 编办 filter."""
from collections import defaultdict

from flask import Blueprint, render_template, request
from sqlalchemy import select

from ..extensions import db
from ..ledger import operations as ledger
from ..ledger.models import CATEGORIES, Department, Establishment, PostQuota, Unit
from ..organisation.models import Office

bp = Blueprint("public", __name__, url_prefix="/public")

MAX_QUERY = 64


def _by_unit(model, unit_ids, order):
    rows = defaultdict(list)
    if unit_ids:
        for row in db.session.scalars(select(model).where(model.unit_id.in_(unit_ids)).order_by(*order)):
            rows[row.unit_id].append(row)
    return rows


def _post_label(quota):
    return ("领导职数" if quota.kind == "leadership" else "中层职数") + quota.level


def _disclosure(units):
    """What the public sees of `units`: (unit, establishment, posts, departments), read in bulk."""
    ids = [u.id for u in units]
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    est = _by_unit(Establishment, ids, (Establishment.id,))
    posts = _by_unit(PostQuota, ids, (PostQuota.kind.desc(), PostQuota.level))
    depts = _by_unit(Department, ids, (Department.id,))
    return [{"unit": u,
             "establishment": sorted(((e.category, e.approved) for e in est[u.id]), key=lambda x: rank.get(x[0], 99)),
             "posts": [(_post_label(q), q.approved) for q in posts[u.id]],
             "departments": [d.name for d in depts[u.id]]} for u in units]


def _offices():
    """Every office, each under its parent (by path), for the filter."""
    return db.session.scalars(select(Office).order_by(Office.path, Office.code)).all()


@bp.get("/units")
def units():
    q = (request.args.get("q") or "").strip()[:MAX_QUERY]
    offices = _offices()
    office = next((o for o in offices if o.code == request.args.get("office")), None)
    query = select(Unit).where(Unit.status == "active").order_by(Unit.code)
    if q:
        query = query.where(Unit.name.contains(q, autoescape=True) | Unit.functions.contains(q, autoescape=True)
                            | (Unit.code == q))
    if office is not None:  # the office's jurisdiction: its units and those of the offices below it
        query = query.where(Unit.office_id.in_(select(Office.id).where(Office.path.startswith(office.path))))
    rows = db.session.scalars(query).all()
    names = {o.id: o.name for o in offices}
    return render_template("public/units.html", rows=_disclosure(rows), q=q, categories=CATEGORIES,
                           offices=offices, office=office, office_names=names)


@bp.get("/units/<code>")
def unit(code):
    unit_obj = ledger.unit_by_code(code)  # 404 for an unknown code
    children = db.session.scalars(select(Unit).where(Unit.parent_id == unit_obj.id).order_by(Unit.code)).all()
    office = db.session.get(Office, unit_obj.office_id) if unit_obj.office_id is not None else None
    return render_template("public/unit.html", row=_disclosure([unit_obj])[0], children=children, office=office)
