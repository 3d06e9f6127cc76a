"""Data exchange: head counts for the finance bureau, and the ledger as a documented JSON
document a province system can load. Both are read-only, scoped by role and audited, and cover
the caller's office jurisdiction (their office and the offices below it; the finance account: the
office it serves): a district's finance bureau reads its district, a city its counties' roll-up."""
import json
from datetime import date

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from sqlalchemy import select

from .. import clock
from ..audit.operations import record
from ..errors import ValidationFailed
from ..extensions import csrf, db
from ..ledger import operations as ledger
from ..ledger.history import figures_as_of
from ..ledger.models import Department, Establishment, Person, PostQuota, TempStaff, Unit
from .views import token_required

bp = Blueprint("exchange", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
LEDGER_FORMAT = "bianzhi-ledger/1"


@bp.get("/finance/headcounts")
@token_required
def headcounts():
    """实有人数 per unit and category on a date (default today), for budgets."""
    user = g.api_user
    try:
        on = date.fromisoformat(request.args["date"]) if request.args.get("date") else clock.today()
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", fields={"date": ["日期格式应为 YYYY-MM-DD"]}) from None
    if on > clock.today():
        raise ValidationFailed("不能查询未来日期", fields={"date": ["不能查询未来日期"]})
    units = []
    for unit in db.session.scalars(select(Unit).where(ledger.in_jurisdiction(user)).order_by(Unit.code)):
        lines = [{"category": f["category"], "approved": f["approved"], "on_roll": f["on_roll"]}
                 for f in figures_as_of(unit, on)]
        units.append({"code": unit.code, "name": unit.name, "funding": unit.funding, "categories": lines})
    record(user, "finance.headcounts", None, ip=request.remote_addr, date=on.isoformat())
    return jsonify({"date": on.isoformat(), "units": units})


def _row(obj, fields):
    out = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


UNIT_FIELDS = ("code", "name", "kind", "level", "nature", "funding", "system", "founded", "approval_doc")
PERSON_FIELDS = ("code", "name", "id_number", "sex", "birth_date", "category", "status", "entry_date", "education",
                 "post", "midlevel_post", "left_date", "left_reason", "details")
TEMP_FIELDS = ("name", "id_number", "sex", "birth_date", "post", "start_date", "end_date", "status")


@bp.get("/ledger/export")
@token_required
def ledger_export():
    """The ledger of the caller's jurisdiction (format bianzhi-ledger/1, see README), streamed."""
    user = g.api_user
    offices = ledger.office_ids(user)
    record(user, "ledger.export", None, ip=request.remote_addr)  # committed before the body is streamed

    def generate():
        # read after that commit: not expired
        units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.office_id.in_(offices)))}
        yield '{"format": "%s", "exported_at": "%s", "units": [' % (LEDGER_FORMAT, clock.now().isoformat() + "Z")
        for i, unit in enumerate(sorted(units.values(), key=lambda u: u.code)):
            item = _row(unit, UNIT_FIELDS)
            item["parent"] = ((units[unit.parent_id] if unit.parent_id in units else unit.parent).code
                              if unit.parent_id else None)
            item["establishment"] = [{"category": e.category, "approved": e.approved} for e in db.session.scalars(
                select(Establishment).where(Establishment.unit_id == unit.id).order_by(Establishment.id))]
            item["posts"] = [{"kind": p.kind, "level": p.level, "approved": p.approved} for p in db.session.scalars(
                select(PostQuota).where(PostQuota.unit_id == unit.id).order_by(PostQuota.id))]
            item["departments"] = [d.name for d in db.session.scalars(
                select(Department).where(Department.unit_id == unit.id).order_by(Department.id))]
            yield ("," if i else "") + json.dumps(item, ensure_ascii=False)
        yield '], "people": ['
        units_of = select(Unit.id).where(Unit.office_id.in_(offices))
        for i, person in enumerate(db.session.scalars(select(Person).where(Person.unit_id.in_(units_of))
                                                      .order_by(Person.id).execution_options(yield_per=1000))):
            item = _row(person, PERSON_FIELDS)
            item["unit"] = units[person.unit_id].code
            yield ("," if i else "") + json.dumps(item, ensure_ascii=False)
        yield '], "temp_staff": ['
        for i, staff in enumerate(db.session.scalars(select(TempStaff).where(TempStaff.unit_id.in_(units_of))
                                                     .order_by(TempStaff.id))):
            item = _row(staff, TEMP_FIELDS)
            item["unit"] = units[staff.unit_id].code
            yield ("," if i else "") + json.dumps(item, ensure_ascii=False)
        yield "]}"

    return Response(stream_with_context(generate()), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=ledger.json"})
