"""Option lists for form fields that name a `valuesKey`: the unit's own people, departments."""
from sqlalchemy import select

from ..extensions import db
from ..ledger.models import Department, Person


def _people(unit, holders_only=False):
    query = select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll")
    if holders_only:
        query = query.where(Person.midlevel_post.is_not(None))
    return [{"value": p.code, "label": f"{p.name}（{p.code}，{p.category}{'，' + p.post if p.post else ''}）"}
            for p in db.session.scalars(query.order_by(Person.name))]


SOURCES = {
    "unit_people": lambda unit: _people(unit),
    "unit_post_holders": lambda unit: _people(unit, holders_only=True),
    "unit_departments": lambda unit: [{"value": d.name, "label": d.name} for d in db.session.scalars(
        select(Department).where(Department.unit_id == unit.id).order_by(Department.id))],
}


def options_for(form_def, unit):
    """{valuesKey: [{"value", "label"}]} for every dynamic list the form uses."""
    keys = set()

    def walk(components):
        for comp in components:
            if comp.get("valuesKey"):
                keys.add(comp["valuesKey"])
            walk(comp.get("components") or [])
    walk(form_def.get("components", []))
    return {key: SOURCES[key](unit) for key in keys if key in SOURCES}


def resolver(unit):
    """A `resolve(valuesKey, value)` for web.forms.labelled: a person's code is shown with their
    name, whether or not they are still on the roll."""
    def resolve(key, value):
        if key in ("unit_people", "unit_post_holders"):
            person = db.session.scalar(select(Person).where(Person.unit_id == unit.id, Person.code == value))
            return f"{person.name}（{person.code}）" if person else value
        return value
    return resolve
