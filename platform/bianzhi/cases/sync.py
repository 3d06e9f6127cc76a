"""The open-task rows the inbox reads, made to match the engine's ready human tasks.

One function turns a case's engine state into open-task rows (`changes`), whoever moved the
engine: a completed task, a new case, a fired timer, a withdrawal, a migration to a newer
version, the year's review started for every unit at once. `write` puts the rows in the
database as Core statements (written once, never changed in the request: the completion's hot
path, see README "hot path"), `announce` sends `tasks_synced` with plain data only — the
listeners (deadlines, the step log, notifications) never see the engine's Run.

`sync_open_tasks` does all three for one case; a bulk caller (review.operations) computes the
changes of many cases, writes them with one statement, then announces each.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from .. import clock
from ..accounts.models import User, role_for_lane
from ..engine import adapter
from ..organisation import routing
from ..errors import Conflict
from ..extensions import db
from ..workdays import add_workdays
from .models import OpenTask, sort_due_of
from .signals import tasks_synced

_EMPTY = MappingProxyType({})


@dataclass(frozen=True)
class OpenedTask:
    """A step that has just opened, as the listeners of tasks_synced see it."""
    id: str
    case_id: int
    bpmn_id: str
    name: str
    lane: str | None
    role: str
    unit_id: int | None
    form_key: str | None
    due_date: date | None
    created_at: datetime
    properties: MappingProxyType  # the diagram element's camunda:properties (read-only)
    office_id: int | None = None  # where it is routed (organisation.routing)
    unheld: bool = False  # nobody could hold it: the office's admins are told


@dataclass(frozen=True)
class Timer:
    """A timer event the case waits on: what the diagram says; the listener decides when it fires."""
    id: str
    element_id: str
    name: str
    properties: MappingProxyType
    duration: timedelta | None
    at: datetime | None


@dataclass
class Changes:
    """What one sync did to one case's open tasks."""
    case: object
    opened: list  # [OpenedTask]
    closed: list  # ids of the rows removed
    open_ids: tuple  # ids of every task open after the sync
    timers: tuple  # (Timer, …) the case waits on
    rows: list  # the new rows' column values, for the insert
    updates: dict  # task id -> changed column values of a kept row (after a migration)
    existing: dict  # task id -> the case's OpenTask rows before the sync
    kept: list  # those of them still open


def due_date_of(element):
    """The step's limit: `deadline_days` working days from today, or None."""
    days = element.properties.get("deadline_days")
    return add_workdays(clock.today(), int(days)) if days not in (None, "") else None


def _timers(run):
    try:
        waiting = run.waiting_timers()
    except adapter.EngineError as exc:
        raise Conflict(exc.message, code="engine_error") from None
    return tuple(Timer(t.id, t.element.id, t.element.name, MappingProxyType(t.element.properties), t.duration,
                       t.at) for t in waiting)


def changes(case, run, existing=None, due_date=None, refresh=False):
    """Compare the engine's ready human tasks with the case's open-task rows. `existing`: the
    rows as they are in the database when the caller has just read them (else they are read);
    `due_date`: the limit of every step that opens now (else each step's `deadline_days`);
    `refresh`: kept rows take the element's current name, lane, role and form (a case moved
    to another version; their claim, due date and creation time stay)."""
    ready = {t.id: t for t in run.human_tasks()}
    if existing is None:
        existing = db.session.scalars(select(OpenTask).where(OpenTask.case_id == case.id))
    existing = {t.id: t for t in existing}
    closed = [task_id for task_id in existing if task_id not in ready]
    opened, rows, updates, kept = [], [], {}, []
    now = None
    for task_id, task in ready.items():
        el = task.element
        role = role_for_lane(el.lane)
        values = {"bpmn_id": el.id, "name": el.name, "lane": el.lane, "role": role,
                  "unit_id": case.unit_id if role == "unit_clerk" else None, "form_key": el.form_key}
        row = existing.get(task_id)
        if row is None or (refresh and row.role != role):
            values.update(routing.route(case, el, role, task.data))
        if row is not None:
            if refresh:
                changed = {k: v for k, v in values.items() if getattr(row, k) != v}
                if changed:
                    updates[task_id] = changed
            kept.append(row)
            continue
        now = now or clock.now()
        due = due_date if due_date is not None else due_date_of(el)
        row_values = {"id": task_id, "case_id": case.id, **values, "due_date": due, "sort_due": sort_due_of(due),
                      "created_at": now}
        row_values["unheld"] = not _anyone_holds(row_values, case)
        rows.append(row_values)
        opened.append(OpenedTask(task_id, case.id, el.id, el.name, el.lane, role, values["unit_id"], el.form_key,
                                 due, now, MappingProxyType(el.properties) if el.properties else _EMPTY,
                                 values["office_id"], row_values["unheld"]))
    return Changes(case, opened, closed, tuple(ready), _timers(run), rows, updates, existing, kept)


def _anyone_holds(values, case):
    """Whether someone may act on a row with these values today (a delegate counts)."""
    from ..inbox.assignment import anyone_holds  # the inbox imports the case models

    task = OpenTask(**{k: v for k, v in values.items() if k != "unheld"})
    set_committed_value(task, "case", case)
    holding = anyone_holds(task)
    if task in db.session:
        db.session.expunge(task)
    return holding


def write(all_changes):
    """The rows of one or many cases' changes, as Core statements on the session's connection:
    one delete of the closed rows, one insert of the new ones, an update per refreshed row."""
    table = OpenTask.__table__
    conn = db.session.connection()
    closed = [task_id for c in all_changes for task_id in c.closed]
    if closed:
        conn.execute(table.delete().where(table.c.id.in_(closed)))
    rows = [row for c in all_changes for row in c.rows]
    if rows:
        conn.execute(table.insert(), rows)
    for c in all_changes:
        for task_id, values in c.updates.items():
            conn.execute(table.update().where(table.c.id == task_id).values(**values))
        for task_id in c.closed:
            if c.existing[task_id] in db.session:
                db.session.expunge(c.existing[task_id])
        for row in c.kept:  # kept rows show what was just written
            for key, value in c.updates.get(row.id, {}).items():
                set_committed_value(row, key, value)
        # what the case shows as open now, without reading back the rows just written
        new = []
        for values in c.rows:
            row = OpenTask(**values)
            set_committed_value(row, "case", c.case)  # a plain object: shown, not tracked
            if values.get("assignee_id") is not None:  # routed to one user (organisation.routing)
                set_committed_value(row, "assignee", db.session.get(User, values["assignee_id"]))
            new.append(row)
        set_committed_value(c.case, "open_tasks", sorted(c.kept + new, key=lambda t: t.created_at))


def announce(c, user):
    """Tell the listeners (deadlines, step log, notifications): plain data, never the Run."""
    tasks_synced.send(c.case, user=user, opened=tuple(c.opened), closed=tuple(c.closed), open_ids=c.open_ids,
                      timers=c.timers)


def sync_open_tasks(case, run, user, existing=None, due_date=None, refresh=False):
    """Make the case's open-task rows match the engine's ready human tasks and tell the
    listeners; see `changes` for the arguments. Returns the Changes."""
    c = changes(case, run, existing, due_date, refresh)
    write([c])
    announce(c, user)
    return c
