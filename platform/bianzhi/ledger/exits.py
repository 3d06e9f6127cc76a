"""出编: a person leaves the roll. They move to the left register (status 'left', with date,
reason and the case), never deleted; any mid-level post they held is cleared; the place is
freed. Filed more than EXIT_DEADLINE_WORKDAYS working days after the exit date = late."""
from datetime import date, timedelta, timezone

from sqlalchemy import null, select

from .. import clock, workdays
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..processes.registry import operation, rule, title
from ..util import LOCAL_TZ
from .models import Establishment, Person
from .operations import chronicle, figure
from .policy import setting

PROCESS_KEY = "staff_exit"
# The delta of a chronicle entry that changes no establishment figure (a post change): SQL NULL.
# A plain None would be stored as JSON 'null', which the replay's `delta IS NOT NULL` keeps.
NO_FIGURES = null()


# ---- shared by the person-picking processes (exits, mid-level posts) --------------------------

def check_own_unit(user, values):
    """The application's unit field must be the clerk's own unit (as in vacancy_available)."""
    if values.get("unit") != user.unit.code:
        raise Forbidden("只能为本单位申请",
                        fields={"unit": [f"只能为本单位（{user.unit.name}，{user.unit.code}）申请"]})


def person_by_code(code):
    return db.session.scalar(select(Person).where(Person.code == code)) if code else None


def own_person(unit, code, field="person"):
    """The person of `unit` with this code, or a field error. A person of another unit gets
    the same answer whatever their record says: nothing of another unit is revealed."""
    person = person_by_code(code)
    if person is None:
        raise ValidationFailed(f"找不到编码为 {code} 的人员", fields={field: [f"找不到编码为 {code} 的人员"]})
    if person.unit_id != unit.id:
        raise ValidationFailed(f"编码 {code} 不是本单位在编人员", fields={field: [f"编码 {code} 不是本单位在编人员"]})
    return person


def describe(person):
    return f"{person.name}（{person.code}）"


def left_message(person):
    exit_case = _case(person.exit_case_id)
    return (f"{describe(person)}已于 {person.left_date.isoformat()} 出编"
            + (f"（{exit_case.number}）" if exit_case is not None else ""))


def running_case_for(process_key, unit, person_code, exclude=None):
    """Another running case of `process_key` of the unit naming this person, if any."""
    from ..cases.models import Case  # the ledger sits below cases

    query = (select(Case).where(Case.process_key == process_key, Case.unit_id == unit.id,
                                Case.state == "running").order_by(Case.id))
    if exclude is not None:
        query = query.where(Case.id != exclude.id)
    return next((c for c in db.session.scalars(query) if (c.data or {}).get("person") == person_code), None)


def _case(case_id):
    from ..cases.models import Case

    return db.session.get(Case, case_id) if case_id else None


def local_date(moment):
    """The Beijing date of a stored (naive UTC) timestamp."""
    return moment.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def lock_person(person):
    """Re-read the person under a row lock (PostgreSQL; SQLite already serializes writers)."""
    return db.session.scalar(select(Person).where(Person.id == person.id).with_for_update()
                             .execution_options(populate_existing=True))


def set_ledger_record(case, record):
    """Keep what the approval did on the case (case.data["ledger"]) so that the notice issued
    right after it, and anyone reading the case later, sees the person as they were."""
    case.data = {**(case.data or {}), "ledger": record}


# ---- 出编 ---------------------------------------------------------------------------------------

def workdays_late(exit_date, filed):
    """Working days by which a filing on `filed` exceeds the exit deadline (0 when in time)."""
    return max(workdays.workdays_between(exit_date, filed) - setting("EXIT_DEADLINE_WORKDAYS"), 0)


class Problems:
    """Field errors collected so the clerk sees every one at once."""

    def __init__(self):
        self.fields = {}
        self.codes = []

    def add(self, field, message, code="invalid"):
        self.fields.setdefault(field, []).append(message)
        self.codes.append(code)

    def __bool__(self):
        return bool(self.fields)

    def first(self):
        return next(m for ms in self.fields.values() for m in ms)

    def collect(self, check, *args):
        """check(*args), keeping its field errors instead of stopping; None when it failed."""
        try:
            return check(*args)
        except ValidationFailed as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    self.add(field, message)
            return None

    def raise_any(self, summary):
        if self.fields:
            messages = [m for ms in self.fields.values() for m in ms]
            raise ValidationFailed(messages[0] if len(messages) == 1 else f"{summary}有 {len(messages)} 处问题",
                                   fields=self.fields)


def check_exit(unit, values, case=None):
    """The application checks (advisory; the operation checks again under lock). Returns the
    person. Raises ValidationFailed naming every field at fault."""
    problems = Problems()
    person = problems.collect(own_person, unit, values.get("person"))
    if person is not None and person.status != "on_roll":
        problems.add("person", left_message(person) + "，不能重复出编")
    elif person is not None:
        other = running_case_for(PROCESS_KEY, unit, person.code, exclude=case)
        if other is not None:
            problems.add("person", f"{describe(person)}已有在办的出编申请 {other.number}，不能重复申请")
    reasons = setting("EXIT_REASONS")
    if values.get("reason") not in reasons:
        problems.add("reason", "出编原因应为：" + "、".join(reasons))
    exit_date = date.fromisoformat(values["exit_date"])
    limit = setting("EXIT_FUTURE_LIMIT_DAYS")
    latest = clock.today() + timedelta(days=limit)
    if exit_date > latest:
        problems.add("exit_date", f"出编时间最多只能提前 {limit} 天申报，不能晚于 {latest.isoformat()}")
    if person is not None and exit_date < person.entry_date:
        problems.add("exit_date", f"出编时间不能早于该人员入编时间 {person.entry_date.isoformat()}")
    problems.raise_any("出编申请")
    return person


def exit_person(user, case, values):
    """Move the person named in the case to the left register. Exactly once: a person another
    case has exited meanwhile gives a Conflict and nothing changes."""
    unit = case.unit
    person = own_person(unit, values.get("person"))
    # lock the establishment line first (the order every vacancy change takes), then the person
    db.session.scalar(select(Establishment).where(Establishment.unit_id == unit.id,
                                                  Establishment.category == person.category).with_for_update())
    person = lock_person(person)
    if person.status != "on_roll":
        raise Conflict(left_message(person) + "，不能重复出编", code="already_left")
    exit_date = date.fromisoformat(values["exit_date"])
    filed = local_date(case.created_at)
    late_by = workdays_late(exit_date, filed)
    fig = figure(unit, person.category)
    department = person.department.name if person.department else None
    record = {"name": person.name, "code": person.code, "sex": person.sex, "id_number": person.id_number,
              "category": person.category, "entry_date": person.entry_date.isoformat(),
              "department": department, "midlevel_post": person.midlevel_post, "post": person.post,
              "left_date": exit_date.isoformat(), "left_reason": values["reason"],
              "filed_date": filed.isoformat(), "late": late_by > 0, "late_workdays": late_by,
              "deadline_workdays": setting("EXIT_DEADLINE_WORKDAYS")}
    if person.midlevel_post:
        chronicle(user, case, unit, "post", person.id, "remove",
                  f"{case.number} {person.name} 出编，免去{department or ''}中层{person.midlevel_post}",
                  before={"person": person.code, "name": person.name, "department": department,
                          "midlevel_post": person.midlevel_post},
                  after={"person": person.code, "name": person.name, "department": department,
                         "midlevel_post": None},
                  delta=NO_FIGURES)
        person.midlevel_post = None
    before = {"status": "on_roll", "code": person.code, "name": person.name, "category": person.category}
    person.status = "left"
    person.left_date = exit_date
    person.left_reason = values["reason"]
    person.exit_case_id = case.id
    person.exit_late = late_by > 0
    extra = {k: values[k] for k in ("destination", "notes") if values.get(k)}
    if extra:
        person.details = {**(person.details or {}), **{f"exit_{k}": v for k, v in extra.items()}}
    after = {"status": "left", "code": person.code, "name": person.name, "category": person.category,
             "left_date": exit_date.isoformat(), "left_reason": values["reason"], "exit_late": late_by > 0}
    if fig is not None:
        before["vacancy"], after["vacancy"] = fig["vacancy"], fig["vacancy"] + 1
        record["figures"] = {"approved": fig["approved"], "on_roll": fig["on_roll"] - 1,
                             "vacancy": fig["vacancy"] + 1}
    chronicle(user, case, unit, "person", person.id, "exit",
              f"{case.number} {person.name} 出编（{values['reason']}，{exit_date.isoformat()}）"
              + (f"，逾期申报 {late_by} 个工作日" if late_by else ""),
              before=before, after=after, delta={"category": person.category, "on_roll": -1})
    set_ledger_record(case, record)
    db.session.flush()
    return person


@title("staff_exit")
def case_title(values):
    """A readable case title, e.g. 出编（张三，退休）: for cases.operations._title (not wired yet)."""
    person = person_by_code(values.get("person"))
    return f"出编（{person.name if person else values.get('person', '')}，{values.get('reason', '')}）"


@rule("staff_exit_application")
def staff_exit_application(ctx, values):
    """出编 application: the clerk's own unit, a person on its roll, a sane exit date, no other
    running exit case for them."""
    check_own_unit(ctx.user, values)
    check_exit(ctx.user.unit, values, ctx.case)


@operation("exit_person")
def exit_person_step(ctx, data):
    person = exit_person(ctx.user, ctx.case, data)
    return {"exited": person.code}
