"""业务提醒: what needs attention soon, per role. A unit clerk sees their unit; bureau staff see
their office's jurisdiction (organisation.scope: a county its own units and cases, a city its
counties' too). Steps near or past their limit, returned cases the unit has not answered,
approved plan places still unused near the year's end, and people reaching retirement age."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import false, func, select
from sqlalchemy.orm import aliased

from .. import clock
from ..cases.models import Case, CaseStep, OpenTask
from ..extensions import db
from ..ledger import retirement
from ..ledger.models import Person, Reservation, Unit
from ..ledger.policy import setting
from ..organisation import jurisdiction
from ..organisation.scope import cases_clause
from ..workdays import add_workdays, workdays_between
from .operations import Filters, tasks_query

LIMIT = 200


@dataclass
class Returned:
    task: OpenTask
    step: CaseStep  # the return
    waiting_workdays: int


@dataclass
class Retiring:
    person: Person
    retirement: retirement.Retirement
    months: int


def _in_scope(user, unit_column):
    """A WHERE clause on a unit id column: the units of a bureau reader's jurisdiction, a clerk's
    own unit, nothing for anyone else."""
    if user.reads_all_units:
        return jurisdiction.of(user).clause(unit_column)
    if user.has_role("unit_clerk") and user.unit_id:
        return unit_column == user.unit_id
    return false()


def near_limit(user, today):
    """The user's own actionable steps due within DUE_SOON_WORKDAYS working days or overdue."""
    horizon = add_workdays(today, setting("DUE_SOON_WORKDAYS"))
    query = tasks_query(user, Filters()).where(OpenTask.sort_due <= horizon)
    return db.session.scalars(query.limit(LIMIT)).all()


def overdue_everywhere(user, today):
    """For leaders: every overdue step of their office's cases (its jurisdiction's, whoever holds
    the step); None for others (the page leaves the section out)."""
    if not user.has_role("leader"):
        return None
    query = (select(OpenTask).join(Case, Case.id == OpenTask.case_id)
             .where(OpenTask.sort_due < today, cases_clause(user, Case))
             .order_by(OpenTask.sort_due, OpenTask.created_at, OpenTask.id))
    return db.session.scalars(query.limit(LIMIT)).all()


def returned_unanswered(user, today):
    """Unit steps reached by a return (退回补正) and not yet answered, oldest first."""
    last = aliased(CaseStep)
    latest = (select(func.max(last.id)).where(last.case_id == OpenTask.case_id).scalar_subquery())
    query = (select(OpenTask, CaseStep).join(CaseStep, CaseStep.case_id == OpenTask.case_id)
             .where(OpenTask.role == "unit_clerk", CaseStep.id == latest, CaseStep.decision == "return",
                    _in_scope(user, OpenTask.unit_id))
             .order_by(OpenTask.created_at))
    return [Returned(task, step, workdays_between(clock.local_date(task.created_at), today))
            for task, step in db.session.execute(query.limit(LIMIT)).all()]


def unused_plan_places(user, today):
    """Approved plan places of this year still unused, shown from PLAN_UNUSED_REMIND_DAYS
    before 31 December (a plan holds its places for the year only)."""
    if (date(today.year, 12, 31) - today).days > setting("PLAN_UNUSED_REMIND_DAYS"):
        return []
    query = (select(Reservation, Unit).join(Unit, Unit.id == Reservation.unit_id)
             .where(Reservation.kind == "plan", Reservation.year == today.year, Reservation.status == "active",
                    Reservation.count > Reservation.used, _in_scope(user, Reservation.unit_id))
             .order_by(Unit.code, Reservation.category))
    return db.session.execute(query.limit(LIMIT)).all()


def retiring(user, today, months=None):
    """(ahead, past): people on roll reaching retirement age within `months` months, soonest
    first, and those already past it but still on roll (an exit to file); the age follows
    ledger.retirement."""
    months = setting("RETIREMENT_AHEAD_MONTHS") if months is None else months
    query = (select(Person).where(Person.status == "on_roll",
                                  Person.birth_date <= retirement.latest_birth_date(today, months),
                                  _in_scope(user, Person.unit_id)))
    ahead, past = [], []
    for person in db.session.scalars(query):
        ret = retirement.of_person(person)
        left = retirement.months_until(ret, today)
        if 0 <= left <= months:
            ahead.append(Retiring(person, ret, left))
        elif left < 0:
            past.append(Retiring(person, ret, left))
    ahead.sort(key=lambda r: (r.retirement.date, r.person.id))
    past.sort(key=lambda r: (r.retirement.date, r.person.id))
    return ahead[:LIMIT], past[:LIMIT]


def for_user(user, months=None):
    today = clock.today()
    return {
        "today": today,
        "near_limit": near_limit(user, today),
        "overdue": overdue_everywhere(user, today),
        "returned": returned_unanswered(user, today),
        "plan_places": unused_plan_places(user, today),
        **dict(zip(("retiring", "past_retirement"), retiring(user, today, months))),
        "months": setting("RETIREMENT_AHEAD_MONTHS") if months is None else months,
        "district": user.reads_all_units,
        "scope_label": jurisdiction.of(user).label if user.reads_all_units else None,
        "plan_window": setting("PLAN_UNUSED_REMIND_DAYS"),
    }
