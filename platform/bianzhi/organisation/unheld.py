"""无人办理: the open tasks nobody holds now (an empty pool, a deactivated assignee, a step
marked unheld when it opened and not taken since), and an admin's 指派 of one to a user who may
hold it. The admin page /admin/organisation/unheld reads these; routing marks the steps."""
from types import SimpleNamespace

from sqlalchemy import exists, func, or_, select, update

from .. import clock
from ..accounts.models import ROLES, User, UserRole
from ..audit.operations import record as audit
from ..cases.models import Case, OpenTask
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..notifications.operations import notify
from ..inbox.assignment import holders_of_role
from . import routing
from .models import Office, PartnerDepartment
from .operations import require_manage


def unheld_reason(task):
    """Why nobody holds the open task now, in Chinese, or None when someone does: the one it is
    assigned to is deactivated; its pool has nobody now (routing.pool_select: an empty section, a
    department without users, a unit without clerks, a named user gone); or it was marked 无人办理
    when it opened and nobody has taken it since."""
    if task.assignee_id is not None:
        assignee = db.session.get(User, task.assignee_id)
        return None if assignee is not None and assignee.active else "指定的办理人账号已停用"
    if _pool_empty(task, task.case):
        return f"{routing.where_label(task)}现无可办理人员"
    if task.unheld:
        return "开启时无人可办理，至今无人认领"
    return None


def unheld_tasks(office_ids, limit=200):
    """The open tasks of these offices that unheld_reason finds nobody holds, most urgent first,
    and how many there are. The pools nobody can hold are found once per distinct pool (a few per
    office: routing.pool_select), not once per task; the units without clerks by one query."""
    ids = list(office_ids)
    if not ids:
        return [], 0
    t = OpenTask
    unassigned = t.assignee_id.is_(None)
    conditions = [unassigned & t.unheld.is_(True), unassigned & (t.pool == "user"),
                  t.assignee_id.in_(select(User.id).where(User.active.is_(False)))]
    keys = db.session.execute(select(t.pool, t.role, t.office_id, t.section_id, t.partner_department_id)
                              .where(t.office_id.in_(ids), unassigned, t.pool.not_in(("unit", "user")))
                              .distinct()).all()
    for pool, role, office_id, section_id, department_id in keys:
        probe = SimpleNamespace(pool=pool, role=role, office_id=office_id, section_id=section_id,
                                partner_department_id=department_id, assignee_id=None)
        if _pool_empty(probe):
            conditions.append(unassigned & (t.pool == pool) & (t.role == role) & (t.office_id == office_id)
                              & _same(t.section_id, section_id) & _same(t.partner_department_id, department_id))
    clerks = (select(User.id).join(UserRole, UserRole.user_id == User.id)
              .where(User.unit_id == Case.unit_id, UserRole.role == t.role, User.active.is_(True)))
    conditions.append(unassigned & (t.pool == "unit") & ~exists(clerks))
    where = (t.office_id.in_(ids), or_(*conditions))
    total = db.session.scalar(select(func.count()).select_from(t).join(Case, Case.id == t.case_id).where(*where))
    if not limit or not total:
        return [], total
    rows = db.session.scalars(select(t).join(Case, Case.id == t.case_id).where(*where)
                              .order_by(t.sort_due, t.created_at, t.id).limit(limit)).all()
    return rows, total


def _pool_empty(task, case=None):
    """Whether no active user of the task's role is in its pool (routing.pool_select, the rule
    routing.pool_users reads), asking for one row. `case` is needed for a unit pool only."""
    query = routing.pool_select(task, case) if task.pool != "user" else None
    return query is None or db.session.scalar(query.with_only_columns(User.id).limit(1)) is None


def _same(column, value):
    return column.is_(None) if value is None else column == value


def _region_departments(task):
    """The partner departments a partner step may be given to: its own, else (a department not
    set up) those of the task's office and the offices above it."""
    if task.partner_department_id is not None:
        return [task.partner_department_id]
    office = db.session.get(Office, task.office_id) if task.office_id else None
    chain = [int(i) for i in office.path.strip("/").split("/")] if office is not None else []
    return db.session.scalars(select(PartnerDepartment.id).where(PartnerDepartment.office_id.in_(chain))).all()


def assignable_users(task):
    """Whom an admin may give the task to: those a transfer could go to (holders_of_role), a
    partner step's across its region's departments when its own is not set up, whom the
    separation of duties does not bar."""
    departments = _region_departments(task) if task.role == "partner" else None
    return [u for u in holders_of_role(task, departments) if task.separated(u)]


def _why_not_assignable(task, user):
    role = ROLES.get(task.role, (task.role,))[0]
    if not user.active:
        return f"{user.display_name}的账号已停用"
    if not user.has_role(task.role):
        return f"此环节由{role}办理，{user.display_name}不是{role}"
    if task.role == "unit_clerk" and user.unit_id != task.case.unit_id:
        return f"{user.display_name}不是申请单位的经办人"
    if task.role == "partner" and user.partner_department_id not in _region_departments(task):
        return f"{user.display_name}不属于办理此环节的联审部门"
    if task.role not in ("unit_clerk", "partner") and user.office_id != task.office_id:
        office = db.session.get(Office, task.office_id) if task.office_id else None
        return f"{user.display_name}不是{office.name if office else '办理此环节的编办'}的工作人员"
    return task.conflict(user)


def assign_task(actor, task, user, ip=None):
    """指派: an admin gives a task nobody holds (unheld_reason) to a user who may hold it; it
    goes to their inbox like a transfer (转办), they are told, and the 无人办理 mark is cleared."""
    office = db.session.get(Office, task.office_id) if task.office_id else None
    if office is None:
        raise Conflict("此任务未路由到任何编办，无法指派", code="no_office")
    require_manage(actor, office)
    if unheld_reason(task) is None:
        raise Conflict("此任务已有可办理人员，无需指派；如需换人请由办理人转办", code="held")
    why = _why_not_assignable(task, user)
    if why:
        raise ValidationFailed(f"不能指派给{user.display_name}：{why}", fields={"username": [why]})
    before = task.assignee_id
    condition = OpenTask.assignee_id.is_(None) if before is None else OpenTask.assignee_id == before
    changed = db.session.execute(update(OpenTask).where(OpenTask.id == task.id, condition)
                                 .values(assignee_id=user.id, assigned_by_id=actor.id if actor else None,
                                         assigned_at=clock.now(), unheld=False)
                                 .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("此任务刚被他人认领或指派，请刷新", code="claimed")
    db.session.refresh(task)
    case = task.case
    audit(actor, "task.assign", f"case:{case.id}", ip=ip, number=case.number, step=task.name, to=user.username)
    notify([user], "assign", f"指派：{actor.display_name if actor else '系统管理员'}将「{case.number} {task.name}」"
                             "指派给您办理", body=f"{case.unit.name}：{case.title}", case=case,
           link=f"/tasks/{task.id}")
    return task
