"""Who holds a task: claim (认领) and release, transfer (转办) to a named colleague of the same
role, delegation while on leave (委托). The rules themselves are OpenTask's predicates
(may_act_as, acting_for), so every path that completes a task honours what is decided here."""
from datetime import date, timedelta

from sqlalchemy import select, update

from .. import clock
from ..accounts.models import ROLES, User, UserRole
from ..audit.operations import record as audit
from ..cases import operations as cases
from ..cases.models import OpenTask
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..ledger.policy import setting
from ..notifications.operations import notify
from ..organisation import routing
from ..util import local
from .models import Delegation
from .operations import TASK_ID, clean_note

DELEGATING_ROLES = ("reviewer", "leader")


def _task(user, task_id):
    """The open task, 404 unless the user may see its case; a task already done gives 409."""
    if not TASK_ID.match(str(task_id)):
        raise NotFound("任务不存在或无权查看")
    task = db.session.get(OpenTask, str(task_id))
    if task is None:
        cases.get_task(user, task_id)  # raises: 409 with who did it, or 404
    if not task.case.can_view(user):
        raise NotFound("任务不存在或无权查看")
    return task


def _user_named(username, field="to"):
    if not isinstance(username, str) or "\x00" in username or len(username) > 64:
        raise ValidationFailed("用户名无效", fields={field: ["用户名无效"]})
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        raise ValidationFailed(f"用户「{username}」不存在或已停用", fields={field: ["用户不存在或已停用"]})
    return user


def holders(task, day=None):
    """Everyone who may act on the task now: its assignee, or else every active user of its role
    (for the unit lane: the case's unit), those the separation of duties bars excepted
    (OpenTask.separated); and whoever stands in for them today, under the same bar."""
    if task.assignee_id is not None:
        assignee = task.assignee or db.session.get(User, task.assignee_id)
        base = [assignee] if assignee.active else []
    else:
        base = routing.pool_users(task)
    base = [u for u in base if task.separated(u)]
    extra = Delegation.delegates_of([u.id for u in base], day or clock.today())
    return [*base, *(u for u in extra if u not in base and task.separated(u))]


def anyone_holds(task, day=None):
    """Whether holders(task) is not empty, stopping at the first (a step that opens: nobody
    holding it is 无人办理)."""
    if task.assignee_id is not None:
        assignee = task.assignee or db.session.get(User, task.assignee_id)
        base = [assignee] if assignee.active else []
        if any(task.separated(u) for u in base):
            return True
    elif routing.someone_in_pool(task, task.case):
        return True
    else:
        base = routing.pool_users(task)  # every one of them barred: a delegate of theirs may hold it
    return any(task.separated(u) for u in Delegation.delegates_of([u.id for u in base], day or clock.today()))


def unit_lane_holders(case):
    """Who may take a just-opened unit-lane task of `case`: the unit's active clerks (the unit
    lane has no separation of duties, and clerks do not delegate)."""
    return db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == "unit_clerk", User.active.is_(True),
                                     User.unit_id == case.unit_id).order_by(User.id)).unique().all()


def users_with_roles(roles, office_id=None):
    """Active users of the roles; with `office_id`, those of that office only."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role.in_(list(roles)), User.active.is_(True)))
    if office_id is not None:
        query = query.where(User.office_id == office_id)
    return db.session.scalars(query.order_by(User.id)).unique().all()


def claim(user, task_id, ip=None):
    task = _task(user, task_id)
    if task.assignee_id == user.id:
        raise Conflict("您已认领此任务", code="already_claimed")
    if task.assignee_id is not None:
        raise Conflict(f"此任务已由{task.assignee.display_name}认领", code="claimed")
    if not task.may_act_as(user):
        raise Forbidden(task.why_not(user))
    changed = db.session.execute(update(OpenTask).where(OpenTask.id == task.id, OpenTask.assignee_id.is_(None))
                                 .values(assignee_id=user.id, assigned_by_id=user.id, assigned_at=clock.now())
                                 .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("此任务刚被他人认领，请刷新", code="claimed")
    db.session.refresh(task)
    audit(user, "task.claim", f"case:{task.case_id}", ip=ip, number=task.case.number, step=task.name)
    return task


def release(user, task_id, ip=None):
    task = _task(user, task_id)
    if task.assignee_id is None:
        raise Conflict("此任务未被认领", code="not_claimed")
    if task.assignee_id != user.id:
        raise Forbidden(f"此任务由{task.assignee.display_name}认领，只有认领人可以释放")
    db.session.execute(update(OpenTask).where(OpenTask.id == task.id, OpenTask.assignee_id == user.id)
                       .values(assignee_id=None, assigned_by_id=None, assigned_at=None)
                       .execution_options(synchronize_session=False))
    db.session.refresh(task)
    audit(user, "task.release", f"case:{task.case_id}", ip=ip, number=task.case.number, step=task.name)
    return task


def transfer(user, task_id, to_username, note=None, ip=None):
    """转办: hand the task to a named colleague of the same role; it leaves the giver's inbox."""
    task = _task(user, task_id)
    if not task.can_complete(user):
        raise Forbidden(task.why_not(user))
    target = _user_named(to_username)
    if target.id == user.id:
        raise ValidationFailed("不能转办给自己", fields={"to": ["请选择其他同事"]})
    if target.id == task.assignee_id:
        raise Conflict(f"此任务已由{target.display_name}办理", code="already_assigned")
    if not target.has_role(task.role):
        raise ValidationFailed(f"{target.display_name}不是{ROLES[task.role][0]}，只能转办给同一角色的同事",
                               fields={"to": ["角色不同"]})
    if task.role == "unit_clerk" and target.unit_id != task.case.unit_id:
        raise ValidationFailed(f"{target.display_name}不属于申请单位", fields={"to": ["不属于申请单位"]})
    if task.role == "partner" and target.partner_department_id != task.partner_department_id:
        raise ValidationFailed(f"{target.display_name}不属于本联审部门", fields={"to": ["不属于本部门"]})
    if task.role not in ("unit_clerk", "partner") and target.office_id != task.office_id:
        raise ValidationFailed(f"{target.display_name}不是办理此环节的编办的工作人员", fields={"to": ["不属于本编办"]})
    if not task.separated(target):
        raise ValidationFailed(f"{target.display_name}不能办理此任务（本人发起，或已在本案中担任初审）",
                               fields={"to": ["回避"]})
    before = task.assignee_id
    condition = OpenTask.assignee_id.is_(None) if before is None else OpenTask.assignee_id == before
    changed = db.session.execute(update(OpenTask).where(OpenTask.id == task.id, condition)
                                 .values(assignee_id=target.id, assigned_by_id=user.id, assigned_at=clock.now())
                                 .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("此任务刚被他人认领或转办，请刷新", code="claimed")
    db.session.refresh(task)
    note = clean_note(note)
    audit(user, "task.transfer", f"case:{task.case_id}", ip=ip, number=task.case.number, step=task.name,
          to=target.username)
    notify([target], "transfer", f"转办：{user.display_name}将「{task.case.number} {task.name}」转交您办理",
           body=note, case=task.case, link=f"/tasks/{task.id}")
    return task


# --- 委托 -------------------------------------------------------------------------------

def _as_date(value, field):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", fields={field: ["日期格式应为 YYYY-MM-DD"]}) from None


def delegate(user, to_username, start, end, note=None, ip=None):
    """委托: from `start` to `end` (both included) `to_username` sees and acts on the user's
    tasks; the record says they acted on the user's behalf."""
    if not user.has_role(*DELEGATING_ROLES):
        raise Forbidden("只有业务科室和分管领导可以设置委托")
    target = _user_named(to_username)
    start, end = _as_date(start, "start_date"), _as_date(end, "end_date")
    errors = {}
    if target.id == user.id:
        errors["to"] = ["不能委托给自己"]
    elif not target.has_role(*DELEGATING_ROLES):
        errors["to"] = [f"{target.display_name}不是编办工作人员（业务科室或分管领导）"]
    elif target.office_id != user.office_id:
        errors["to"] = [f"{target.display_name}不是本编办的工作人员"]
    if end < start:
        errors["end_date"] = ["结束日期不能早于开始日期"]
    elif end < clock.today():
        errors["end_date"] = ["结束日期已过"]
    elif (end - start) > timedelta(days=setting("DELEGATION_MAX_DAYS") - 1):
        errors["end_date"] = [f"委托期限最长 {setting('DELEGATION_MAX_DAYS')} 天"]
    if errors:
        raise ValidationFailed("委托设置有误", fields=errors)
    overlap = db.session.scalar(select(Delegation).where(
        Delegation.principal_id == user.id, Delegation.revoked_at.is_(None),
        Delegation.start_date <= end, Delegation.end_date >= start).limit(1))
    if overlap is not None:
        raise Conflict(f"与已有委托（{overlap.delegate.display_name}，{overlap.start_date} 至 {overlap.end_date}）"
                       "时间重叠，请先撤销", code="overlap")
    row = Delegation(principal_id=user.id, delegate_id=target.id, start_date=start, end_date=end,
                     note=clean_note(note), created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    audit(user, "delegation.create", f"user:{target.id}", ip=ip, to=target.username, start=start, end=end)
    notify([target], "delegation", f"委托：{user.display_name}在 {start} 至 {end} 期间委托您代为办理其待办",
           body=row.note, link="/inbox")
    return row


def revoke(user, delegation_id, ip=None):
    row = db.session.get(Delegation, delegation_id)
    if row is None or row.principal_id != user.id:
        raise NotFound("委托不存在")
    if row.revoked_at is not None:
        raise Conflict(f"该委托已于 {local(row.revoked_at)} 撤销", code="revoked")
    row.revoked_at = clock.now()
    db.session.flush()
    audit(user, "delegation.revoke", f"user:{row.delegate_id}", ip=ip)
    return row


def delegations(user):
    """(given, received): the user's delegations to others, and others' to the user, newest first."""
    given = db.session.scalars(select(Delegation).where(Delegation.principal_id == user.id)
                               .order_by(Delegation.id.desc()).limit(50)).all()
    received = db.session.scalars(select(Delegation).where(Delegation.delegate_id == user.id)
                                  .order_by(Delegation.id.desc()).limit(50)).all()
    return given, received


def colleagues(task):
    """Whom a task may be transferred to: active users of its role (its unit for the unit lane)."""
    return [u for u in holders_of_role(task) if task.separated(u)]


def holders_of_role(task, departments=None):
    """Active users of the task's role where it is routed: the case's unit's clerks, the partner
    department's users (or those of `departments`), the bureau users of the task's office."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == task.role, User.active.is_(True)))
    if task.role == "unit_clerk":
        query = query.where(User.unit_id == task.case.unit_id)
    elif task.role == "partner":
        query = query.where(User.partner_department_id.in_(departments or [task.partner_department_id]))
    else:
        query = query.where(User.office_id == task.office_id)
    return db.session.scalars(query.order_by(User.username)).unique().all()
