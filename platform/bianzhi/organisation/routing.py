"""Routing: who holds a step, decided when it opens, from the diagram and the organisation.

A user task's `assignment` property (camunda:properties, set in the modeler) names its holders:

    unit                 the clerks of the case's unit (the unit lane's default)
    section              the reviewers of the section the case's unit is 归口 to (业务科室's default)
    section:<code>       the reviewers of the case's office's section <code> (a matter one section
                         handles whoever owns the unit, e.g. 综合科 for every 年度计划)
    leader_of_section    the leaders in charge of that section (分管领导's default; with :<code>,
                         of the named section)
    office               anyone of the lane's role in the case's office (主任办公会's default)
    office_above         the lane's role in the office above the case's office (上报审批)
    department:<code>    the partner department <code> of the case's office's region (部门联审)
    user:<username>      that user
    field:<form field>   the user whose username the case's data holds in that field
    starter              the clerk who started the case

`route` turns that into the open-task row's columns (pool, office_id, section_id,
partner_department_id, assignee_id). When nobody can hold the step (an empty section, a leader
gone and no delegate, a department not set up), the row is marked `unheld` and the office's
admins are told (无人办理): the case never stalls unseen. `pool_users` is the same rule read
the other way: who may act on a row (inbox/assignment.holders builds on it)."""
import re

from sqlalchemy import select

from ..accounts.models import User, UserRole
from ..errors import Conflict
from ..extensions import db
from .models import Office, PartnerDepartment, Section, SectionMember

KINDS = {
    "unit": "申请单位经办人",
    "section": "案件单位归口科室",
    "leader_of_section": "归口科室的分管领导",
    "office": "本级编办同角色人员",
    "office_above": "上级编办同角色人员（上报审批）",
    "department": "联审部门",
    "user": "指定用户",
    "field": "表单字段指定的用户",
    "starter": "案件发起人",
}
ARGUMENTS = {"department": "部门代码", "user": "用户名", "field": "表单字段"}  # the kinds that take one
OPTIONAL_ARGUMENTS = {"section": "科室代码", "leader_of_section": "科室代码"}  # a named section of the office
NAMED_LABELS = {"section": "指定科室", "leader_of_section": "指定科室的分管领导"}  # with that argument
# the kinds that make sense in a lane of each role (the validator holds diagrams to it, the
# modeler offers these): a kind outside its lane would route the step to nobody (a section's
# reviewers in a leader lane) or to the wrong people (the unit's clerks in a bureau lane)
KINDS_BY_ROLE = {
    "unit_clerk": ("unit", "starter", "user", "field"),
    "reviewer": ("section", "office", "office_above", "user", "field"),
    "leader": ("leader_of_section", "office", "office_above", "user", "field"),
    "partner": ("department",),
}
OTHER_ROLES_KINDS = ("office", "office_above", "user", "field")
DEFAULT_BY_ROLE = {"unit_clerk": "unit", "reviewer": "section", "leader": "leader_of_section"}
OFFICE_LANES = ("主任办公会",)  # the office's leaders together
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def default_for(role, lane):
    if lane and lane.strip() in OFFICE_LANES:
        return "office"
    return DEFAULT_BY_ROLE.get(role, "office")


def kinds_for(role):
    return KINDS_BY_ROLE.get(role, OTHER_ROLES_KINDS)


def parse(value):
    """(kind, argument) of an assignment value; raises ValueError with a Chinese reason."""
    text = (value or "").strip()
    kind, _, arg = text.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if kind not in KINDS:
        raise ValueError(f"办理人设置「{text}」无法识别；可用：{'、'.join(f'{k}（{v}）' for k, v in KINDS.items())}")
    if kind in ARGUMENTS or (arg and kind in OPTIONAL_ARGUMENTS):
        if not arg:
            raise ValueError(f"办理人设置 {kind}: 后须写明{ARGUMENTS[kind]}")
        if not _CODE.match(arg):
            raise ValueError(f"办理人设置「{text}」中的「{arg}」只能含字母、数字、下划线、点和连字符")
    elif arg:
        raise ValueError(f"办理人设置 {kind} 不带参数，现为「{text}」")
    return kind, arg or None


def assignment_of(element, role):
    """The element's (kind, argument): its `assignment` property, or the lane's default."""
    value = (element.properties or {}).get("assignment")
    if value in (None, ""):
        return default_for(role, element.lane), None
    return parse(value)


def describe(value, role=None, lane=None):
    """The assignment in Chinese, for the modeler and the task page."""
    try:
        kind, arg = parse(value) if value else (default_for(role, lane), None)
    except ValueError as exc:
        return str(exc)
    label = NAMED_LABELS.get(kind, KINDS[kind]) if arg else KINDS[kind]
    return f"{label}：{arg}" if arg else label


def route(case, element, role, data=None):
    """The routing columns of a step of `case` that opens now."""
    kind, arg = assignment_of(element, role)
    office_id = case.office_id if case.office_id is not None else case.unit.office_id
    values = {"pool": "office", "office_id": office_id, "section_id": None, "partner_department_id": None,
              "assignee_id": None, "unheld": False}
    if kind == "office":
        pass
    elif kind == "unit":
        values["pool"] = "unit"
    elif kind in ("section", "leader_of_section"):
        values["pool"] = "section" if kind == "section" else "section_leader"
        values["section_id"] = case.unit.section_id if arg is None else db.session.scalar(
            select(Section.id).where(Section.office_id == office_id, Section.code == arg))
    elif kind == "office_above":
        office = db.session.get(Office, office_id) if office_id else None
        if office is None or office.parent_id is None:
            raise Conflict(f"「{element.name}」须报上级编办审批，但{office.name if office else '本单位所属编办'}"
                           "没有上级编办；请流程管理员修改流程图或由系统管理员设置编办层级", code="no_office_above")
        values["office_id"] = office.parent_id
    elif kind == "department":
        values["pool"] = "department"
        values["partner_department_id"] = department_for(office_id, arg)
    else:  # user, field, starter
        values["pool"] = "user"
        if kind == "starter":
            user = case.started_by
        else:
            name = arg if kind == "user" else (data or {}).get(arg)
            user = db.session.scalar(select(User).where(User.username == str(name).strip())) \
                if isinstance(name, str) and name.strip() else None
        if user is not None and _may_hold(user, role, case):
            values["assignee_id"] = user.id
    return values


def department_for(office_id, code):
    """The id of the partner department `code` of the office's region: the office's own, else the
    nearest office above that has one; None when there is none."""
    office = db.session.get(Office, office_id) if office_id else None
    while office is not None:
        found = db.session.scalar(select(PartnerDepartment.id).where(
            PartnerDepartment.office_id == office.id, PartnerDepartment.code == code))
        if found is not None:
            return found
        office = office.parent
    return None


def _may_hold(user, role, case):
    """A named user holds a step only in the lane's role, active, and (a clerk) of the case's
    unit, (bureau staff) of the case's office or one above it."""
    if not user.active or not user.has_role(role):
        return False
    if role == "unit_clerk":
        return user.unit_id == case.unit_id
    if role == "partner":
        return user.partner_department_id is not None
    office = db.session.get(Office, case.office_id) if case.office_id else None
    mine = db.session.get(Office, user.office_id) if user.office_id else None
    return office is not None and mine is not None and office.path.startswith(mine.path)


def pool_users(task, case=None):
    """Every active user who may hold `task` by its routing (the assignee's claim aside)."""
    case = case or task.case
    if task.pool == "user":
        user = db.session.get(User, task.assignee_id) if task.assignee_id else None
        return [user] if user is not None and user.active else []
    query = pool_select(task, case)
    if query is None:
        return []
    return db.session.scalars(query.order_by(User.id)).unique().all()


def pool_select(task, case):
    """A select of the active users of the task's role in its pool (None: an empty pool)."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == task.role, User.active.is_(True)))
    if task.pool == "unit":
        return query.where(User.unit_id == case.unit_id)
    if task.pool in ("section", "section_leader"):
        if task.section_id is None:
            return None
        duty = "reviewer" if task.pool == "section" else "leader"
        return query.join(SectionMember, SectionMember.user_id == User.id).where(
            SectionMember.section_id == task.section_id, SectionMember.duty == duty)
    if task.pool == "department":
        if task.partner_department_id is None:
            return None
        return query.where(User.partner_department_id == task.partner_department_id)
    if task.pool == "user" or task.office_id is None:
        return None
    return query.where(User.office_id == task.office_id)


def someone_in_pool(task, case):
    """Whether an active user of the pool may act on the task in their own right (the separation
    of duties included), in one statement: a step that opens asks it."""
    from ..cases.models import CaseStep

    query = pool_select(task, case)
    if query is None:
        return False
    query = query.with_only_columns(User.id)
    if task.role != "unit_clerk":
        query = query.where(User.id != case.started_by_id)
    if task.role == "leader":
        query = query.where(~select(CaseStep.id).where(
            CaseStep.case_id == case.id, CaseStep.role == "reviewer",
            (CaseStep.user_id == User.id) | (CaseStep.on_behalf_of_id == User.id)).exists())
    return db.session.scalar(query.limit(1)) is not None


def escalation_targets(roles, case, office_id):
    """Whom an overdue step is reported to (ESCALATE_TO's roles): the reviewers and leaders in
    charge of the section that owns the case's unit; the role's users of the office when the
    unit has no section or the step is not the office's own (a step sent up to the office above)."""
    section_id = case.unit.section_id if office_id == case.office_id else None
    found = []
    for role in roles:
        query = (select(User).join(UserRole, UserRole.user_id == User.id)
                 .where(UserRole.role == role, User.active.is_(True)))
        if section_id is not None and role in ("reviewer", "leader"):
            query = query.join(SectionMember, SectionMember.user_id == User.id).where(
                SectionMember.section_id == section_id, SectionMember.duty == role)
        else:
            query = query.where(User.office_id == office_id)
        found.extend(db.session.scalars(query.order_by(User.id)).unique().all())
    return found


def office_admins(office_id):
    """The active admins of an office (those told of a step nobody holds)."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == "admin", User.active.is_(True)))
    if office_id is not None:
        query = query.where(User.office_id == office_id)
    return db.session.scalars(query.order_by(User.id)).unique().all()


def where_label(task):
    """Where the step is routed, in Chinese (the task page, the unheld list)."""
    if task.pool == "unit":
        return "申请单位"
    if task.pool in ("section", "section_leader"):
        section = db.session.get(Section, task.section_id) if task.section_id else None
        name = section.name if section else "（单位未归口科室）"
        return name if task.pool == "section" else f"{name}分管领导"
    if task.pool == "department":
        dept = db.session.get(PartnerDepartment, task.partner_department_id) if task.partner_department_id else None
        return dept.name if dept else "（联审部门未设置）"
    if task.pool == "user":
        user = db.session.get(User, task.assignee_id) if task.assignee_id else None
        return user.display_name if user else "（指定办理人不存在或已停用）"
    office = db.session.get(Office, task.office_id) if task.office_id else None
    return office.name if office else "编办"
