"""Deadlines in working days: when a step opens, its reminder and escalation are scheduled as
jobs, and every timer event its case waits on too; the worker runs them (bianzhi.worker).

When things happen (Beijing time; the thresholds are ledger.policy settings a diagram step may
override with the properties remind_workdays_before / escalate_after_workdays):
- reminder: DEADLINE_NOTIFY_HOUR on the working day REMIND_WORKDAYS_BEFORE working days before
  the due date, to whoever may act (not scheduled when that moment has passed at arrival);
- escalation: DEADLINE_NOTIFY_HOUR on the working day ESCALATE_AFTER_WORKDAYS after the due
  date: the step is marked escalated and the roles in ESCALATE_TO are told (the leaders for a
  bureau step, the section for a unit step), and so are its holders;
- a timer with the property timer_workdays=N fires at 00:00 after the N-th working day from
  when it started waiting (the unit had N whole working days); any other timer when its
  duration (calendar time) or date says.
"""
import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..accounts.models import User
from ..cases.models import CaseStep, OpenTask
from ..extensions import db
from ..ledger.policy import setting
from ..notifications.operations import notify
from ..workdays import add_workdays
from .assignment import unit_lane_holders
from .models import Job

DEADLINE_JOBS = ("remind", "escalate", "timer")
SYSTEM_USERNAME = "system"


def _insert_jobs(rows):
    """Insert jobs, skipping any whose key is already scheduled (so scheduling is idempotent)."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = clock.now()
    # one statement with bound parameter lists (cached once compiled; a .values([...]) literal
    # would be compiled anew for every completion)
    # (the table, not the entity: Core, without the ORM's bulk-insert machinery)
    db.session.execute(insert(Job.__table__).on_conflict_do_nothing(index_elements=["key"]),
                       [{"status": "pending", "attempts": 0, "payload": {}, "created_at": now, **r} for r in rows])


def _property_days(properties, name, default):
    value = (properties or {}).get(name)
    return int(value) if value not in (None, "") and str(value).isdigit() else default


def deadline_jobs(task, properties, now):
    """The reminder and escalation rows for an open task with a due date; `properties`: its
    diagram step's (None when not known)."""
    if task.due_date is None:
        return []
    hour = setting("DEADLINE_NOTIFY_HOUR")
    before = _property_days(properties, "remind_workdays_before", setting("REMIND_WORKDAYS_BEFORE"))
    after = _property_days(properties, "escalate_after_workdays", setting("ESCALATE_AFTER_WORKDAYS"))
    rows = []
    remind_at = clock.at_local(add_workdays(task.due_date, -before), hour)
    if before > 0 and remind_at > now:
        rows.append({"kind": "remind", "key": f"remind:{task.id}", "run_at": remind_at, "case_id": task.case_id,
                     "task_id": task.id})
    escalate_at = (clock.at_local(add_workdays(task.due_date, after), hour) if after > 0
                   else clock.start_of_next_day(task.due_date))
    rows.append({"kind": "escalate", "key": f"escalate:{task.id}", "run_at": escalate_at, "case_id": task.case_id,
                 "task_id": task.id})
    return rows


def timer_fire_time(timer, now):
    days = _property_days(timer.properties, "timer_workdays", None)
    if days:
        return clock.start_of_next_day(add_workdays(clock.local_date(now), days))
    if timer.duration is not None:
        return now + timer.duration
    return timer.at


def on_tasks_synced(case, user, opened, closed, open_ids, timers):
    """Listener of cases.signals.tasks_synced (connected in bianzhi.registry): each opened step's
    reminder and escalation, each waiting timer's firing; a closed step's jobs cancelled."""
    now = clock.now()
    rows = []
    for task in opened:
        rows.extend(deadline_jobs(task, task.properties, now))
    rows.extend({"kind": "timer", "key": f"timer:{t.id}", "run_at": timer_fire_time(t, now), "case_id": case.id,
                 "task_id": t.id, "payload": {"element": t.element_id}} for t in timers)
    _insert_jobs(rows)
    if closed:
        live = [*open_ids, *(t.id for t in timers)]
        jobs = Job.__table__
        db.session.execute(jobs.update().where(jobs.c.case_id == case.id, jobs.c.status == "pending",
                                               jobs.c.kind.in_(DEADLINE_JOBS), jobs.c.task_id.not_in(live))
                           .values(status="cancelled", done_at=now))
    _tell_the_unit(case, user, opened)
    _tell_the_admins(case, user, opened)


def _tell_the_admins(case, user, opened):
    """无人办理: a step nobody could hold when it opened is the office's admins' to place."""
    from ..organisation.routing import office_admins

    for task in opened:
        if task.unheld:
            notify(office_admins(task.office_id), "unheld",
                   f"无人办理：「{case.number}」{task.name}没有可办理的人员，请指派或调整科室、部门设置",
                   body=f"{case.unit.name}：{case.title}", case=case, link="/admin/organisation/unheld",
                   exclude=user)


def _tell_the_unit(case, user, opened):
    """The unit hears when the case comes back to it (a return, a registration to do) and when
    it ends."""
    unit_tasks = [t for t in opened if t.role == "unit_clerk"]
    if unit_tasks:
        last = db.session.scalar(select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.role != "unit_clerk")
                                 .order_by(CaseStep.id.desc()).limit(1))
        why = ""
        if last is not None:
            why = f"（{last.name}：{last.decision_label}{'，' + last.opinion if last.opinion else ''}）"
        for task in unit_tasks:  # just opened: nobody has claimed it yet
            notify(unit_lane_holders(case), "case", f"待办理：「{case.number}」{task.name}{why}",
                   body=f"办理期限 {task.due_date}" if task.due_date else None, case=case,
                   link=f"/tasks/{task.id}", exclude=user)
    if case.finished_at is not None and not opened:
        notify([db.session.get(User, case.started_by_id)], "case", f"案件已办结：「{case.number}」{case.state_label}",
               case=case, exclude=user)


# the worker's handlers for the jobs scheduled here (remind, escalate, timer): bianzhi.jobs.deadlines

def system_user():
    """The account automatic actions are recorded under; it cannot log in."""
    user = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    if user is not None:
        return user
    try:
        with db.session.begin_nested():
            user = User(username=SYSTEM_USERNAME, display_name="系统（自动）", active=False,
                        password_hash="!" + secrets.token_hex(16))
            db.session.add(user)
    except IntegrityError:  # another worker made it at the same moment
        user = db.session.scalar(select(User).where(User.username == SYSTEM_USERNAME))
    return user


def schedule_missing(now=None, batch=1000):
    """Reminders and escalations for open tasks that have none (tasks opened before this
    feature, or restored from a backup). Idempotent; returns how many tasks were looked at."""
    now = now or clock.now()
    seen, last = 0, ""
    while True:
        tasks = db.session.scalars(select(OpenTask).where(OpenTask.id > last, OpenTask.due_date.is_not(None),
                                                          ~select(Job.id).where(Job.key == "escalate:" + OpenTask.id)
                                                          .exists())
                                   .order_by(OpenTask.id).limit(batch)).all()
        if not tasks:
            return seen
        rows = []
        for task in tasks:
            rows.extend(deadline_jobs(task, None, now))
        _insert_jobs(rows)
        seen += len(tasks)
        last = tasks[-1].id
