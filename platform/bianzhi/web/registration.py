"""The people a unit has registered (落编登记) and the bureau has yet to confirm: they live in the
registration step's `people` list until the confirmation puts them on the roll (ledger Person
rows), so the confirming reviewer reads them from there."""
from dataclasses import dataclass

from ..ledger import idnumber
from ..ledger.privacy import shown_id_number
from ..ledger.records import HISTORY_LABELS
from ..processes import operations as processes

REGISTRATION_LIST = "people"  # the registration form's list of people (forms/registration.json)
# the record's key fields, and what a missing one is called (the person record's own labels)
KEY_FIELDS = tuple((key, HISTORY_LABELS[key]) for key in ("name", "id_number", "entry_date", "education", "post"))


@dataclass
class Registered:
    name: str
    id_number: str | None  # as the reader may see it (masked unless their role needs it)
    sex: str | None  # from the ID number
    birth_date: object
    entry_date: str | None
    education: str | None
    post: str | None
    missing: list  # labels of key fields not filled (性别、出生日期 when the ID number is unusable)

    @property
    def complete(self):
        return not self.missing


def _step_form_key(case, step):
    element = processes.parsed_version(case.version).elements.get(step.bpmn_id)
    return element.form_key if element is not None else None


def pending_registration(case, user, registration_form="registration"):
    """The people of the case's latest registration step, for `user` to read; [] when the case has
    none, has ended (its people are on the roll then, or were never put there) or is back at the
    unit for registration (the form shows what was sent)."""
    if case.finished_at is not None or any(t.form_key == registration_form for t in case.open_tasks):
        return []
    step = next((s for s in reversed(case.steps) if _step_form_key(case, s) == registration_form), None)
    if step is None:
        return []
    rows = []
    for record in (step.data or {}).get(REGISTRATION_LIST) or []:
        if not isinstance(record, dict):
            continue
        missing = [label for key, label in KEY_FIELDS if not record.get(key)]
        sex = birth = None
        if record.get("id_number"):
            try:
                info = idnumber.parse(record["id_number"])
            except idnumber.InvalidIdNumber:
                missing.append("性别、出生日期（身份证号无效）")
            else:
                sex, birth = info.sex, info.birth_date
        rows.append(Registered(name=record.get("name"),
                               id_number=shown_id_number(user, record.get("id_number"), case.unit_id),
                               sex=sex, birth_date=birth, entry_date=record.get("entry_date"),
                               education=record.get("education"), post=record.get("post"), missing=missing))
    return rows
