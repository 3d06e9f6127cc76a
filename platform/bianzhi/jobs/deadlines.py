"""Jobs `remind`, `escalate` and `timer`, scheduled by inbox.deadlines as steps open: database
handlers, run inside the transaction that claims the job and marks it done."""
from sqlalchemy import select

from .. import clock
from ..accounts.models import ROLES
from ..audit.operations import record as audit
from ..cases import operations as cases
from ..cases.models import OpenTask
from ..extensions import db
from ..inbox.assignment import holders
from ..organisation import routing
from ..inbox.deadlines import system_user
from ..ledger.policy import setting
from ..notifications.operations import notify


def _open_task(job):
    return db.session.scalar(select(OpenTask).where(OpenTask.id == job.task_id))


def remind(job, now):
    """The step is due soon: whoever may act on it is told."""
    task = _open_task(job)
    if task is None:
        return "skipped"
    case = task.case
    notify(holders(task, clock.local_date(now)), "remind",
           f"到期提醒：「{case.number} {task.name}」将于 {task.due_date} 到期",
           body=f"{case.title}。请在办理期限内办理。", case=case, link=f"/tasks/{task.id}")
    return "done"


def escalate(job, now):
    """The step is past its limit: marked escalated, the roles in ESCALATE_TO told, and its holders."""
    task = _open_task(job)
    if task is None:
        return "skipped"
    case = task.case
    task.escalated_at = now
    day = clock.local_date(now)
    title = f"超期督办：「{case.number} {task.name}」已超过办理期限 {task.due_date}"
    acting = holders(task, day)
    who = "、".join(u.display_name for u in acting) or "（无人）"
    roles = setting("ESCALATE_TO").get(task.role, ("leader",))
    told = notify(routing.escalation_targets(roles, case, task.office_id or case.office_id), "escalate", title,
                  body=f"{case.unit.name}：{case.title}。当前办理人：{who}。", case=case)
    already = {n.user_id for n in told}
    notify([u for u in acting if u.id not in already], "escalate",
           f"已超期：「{case.number} {task.name}」办理期限为 {task.due_date}",
           body=f"该环节已超过办理期限，已报告{'、'.join(ROLES[r][0] for r in roles)}，请尽快办理。", case=case,
           link=f"/tasks/{task.id}")
    audit(system_user(), "task.escalate", f"case:{case.id}", number=case.number, step=task.name,
          due=task.due_date)
    db.session.flush()
    return "done"


def fire_timer(job, now):
    """A timer event of the case's diagram is due: the engine passes it (cases.fire_timer)."""
    case = cases.fire_timer(system_user(), job.case_id, job.task_id)
    return "done" if case is not None else "skipped"
