"""/api/v1/people/<code>: a person's record; the unit's clerks change its non-key fields."""
from flask import Blueprint, g, jsonify, request

from ..audit.operations import record as audit
from ..extensions import csrf
from ..ledger import records
from ..ledger.privacy import shown_id_number
from .views import json_body, token_required

bp = Blueprint("api_people", __name__, url_prefix="/api/v1")
csrf.exempt(bp)



def person_json(user, person):
    photo = records.photo_of(person)
    score, missing = records.completeness(person, photo is not None)
    return {"code": person.code, "name": person.name, "sex": person.sex,
            "id_number": shown_id_number(user, person.id_number, person.unit_id),
            "birth_date": person.birth_date.isoformat(), "unit": person.unit.code, "category": person.category,
            "status": person.status, "post": person.post, "entry_date": person.entry_date.isoformat(),
            "fields": records.current_values(person), "photo": photo is not None,
            "completeness": score, "missing": missing, "editable": records.may_edit(user, person)}


@bp.get("/people/<code>")
@token_required
def get_person(code):
    person = records.get_person(g.api_user, code)
    body = person_json(g.api_user, person)
    audit(g.api_user, "person.view", f"person:{person.code}", ip=request.remote_addr)
    return jsonify(body)


@bp.patch("/people/<code>")
@token_required
def update_person(code):
    """Body: {"fields": {key: value, …}, "reason": "…"} or the fields themselves at the top level."""
    person = records.get_person(g.api_user, code)
    body = json_body()
    changes = body.get("fields") if isinstance(body.get("fields"), dict) else {
        k: v for k, v in body.items() if k != "reason"}
    entry = records.update_person(g.api_user, person, changes, reason=body.get("reason"))
    answer = person_json(g.api_user, person)
    answer["chronicle_id"] = entry.id if entry else None
    return jsonify(answer)
