"""Changing the organisation: offices, sections, 归口 (which section owns a unit), who sits in
which section, partner departments and their users. Admin pages and CLI commands call these;
each checks its input, refuses what would leave a step without an owner or cross an office's
border, flushes (never commits) and writes the audit log; a 归口 change is a chronicle entry."""
import re

from sqlalchemy import func, select

from ..accounts.models import BUREAU_READERS, User, UserRole
from ..audit.operations import record as audit
from ..cases.models import OpenTask
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..ledger.models import Unit
from ..ledger.operations import chronicle
from .models import DUTIES, LEVELS, Office, PartnerDepartment, Section, SectionMember

CODE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
PARENT_LEVEL = {"city": "province", "county": "city"}


def _code(value, field="code"):
    code = str(value or "").strip()
    if not CODE.match(code):
        raise ValidationFailed("代码只能含字母、数字、下划线和连字符（1–32 个）", fields={field: ["代码格式不对"]})
    return code


def _name(value, field="name"):
    name = str(value or "").strip()
    if not name or len(name) > 64:
        raise ValidationFailed("名称不能为空，最多 64 个字", fields={field: ["请填写名称（最多 64 个字）"]})
    return name


# ---------------------------------------------------------------- reading

def office_by_code(code):
    office = db.session.scalar(select(Office).where(Office.code == str(code or "").strip()))
    if office is None:
        raise NotFound(f"编办「{code}」不存在")
    return office


def top_offices():
    return db.session.scalars(select(Office).where(Office.parent_id.is_(None)).order_by(Office.code)).all()


def children(office):
    return db.session.scalars(select(Office).where(Office.parent_id == office.id).order_by(Office.code)).all()


def tree(root_ids):
    """The offices under each root id as nested dicts: code, name, level, children (one query)."""
    roots = db.session.scalars(select(Office).where(Office.id.in_(list(root_ids)))).all()
    if not roots:
        return []
    below = db.session.scalars(select(Office).where(
        db.or_(*[Office.path.startswith(r.path) for r in roots])).order_by(Office.path)).all()
    by_parent = {}
    for office in below:
        by_parent.setdefault(office.parent_id, []).append(office)

    def node(office):
        return {**office.as_dict(), "children": [node(c) for c in sorted(by_parent.get(office.id, []),
                                                                      key=lambda o: o.code)]}
    return [node(r) for r in sorted(roots, key=lambda o: o.code)]


def sections_of(office):
    return db.session.scalars(select(Section).where(Section.office_id == office.id).order_by(Section.code)).all()


def section_by_code(office, code):
    section = db.session.scalar(select(Section).where(Section.office_id == office.id,
                                                      Section.code == str(code or "").strip()))
    if section is None:
        raise NotFound(f"{office.name}没有代码为「{code}」的科室")
    return section


def departments_of(office):
    return db.session.scalars(select(PartnerDepartment).where(PartnerDepartment.office_id == office.id)
                              .order_by(PartnerDepartment.code)).all()


def department_by_code(office, code):
    dept = db.session.scalar(select(PartnerDepartment).where(PartnerDepartment.office_id == office.id,
                                                             PartnerDepartment.code == str(code or "").strip()))
    if dept is None:
        raise NotFound(f"{office.name}没有代码为「{code}」的联审部门")
    return dept


def members(section, duty=None):
    query = select(SectionMember).where(SectionMember.section_id == section.id)
    if duty:
        query = query.where(SectionMember.duty == duty)
    return db.session.scalars(query.order_by(SectionMember.duty, SectionMember.user_id)).all()


def unit_counts(office):
    """{section id: how many active units it owns} for the office's sections."""
    return dict(db.session.execute(select(Unit.section_id, func.count()).where(
        Unit.office_id == office.id, Unit.status == "active").group_by(Unit.section_id)).all())


def may_manage(user, office):
    """An admin manages their own office and the offices below it."""
    if not user.has_role("admin") or user.office_id is None:
        return False
    mine = db.session.get(Office, user.office_id)
    return mine is not None and office.path.startswith(mine.path)


def require_manage(user, office):
    if user is not None and not may_manage(user, office):
        raise Forbidden(f"您不能管理{office.name}的组织设置")


# ---------------------------------------------------------------- changing

def create_office(actor, code, name, level, parent=None, ip=None):
    code, name = _code(code), _name(name)
    if level not in LEVELS:
        raise ValidationFailed(f"层级应为：{'、'.join(LEVELS.values())}", fields={"level": ["请选择层级"]})
    if db.session.scalar(select(Office.id).where(Office.code == code)) is not None:
        raise Conflict(f"编办代码 {code} 已存在", code="exists")
    if parent is None and actor is not None and db.session.scalar(select(Office.id).limit(1)) is not None:
        raise ValidationFailed("请指定上级编办（只有第一个编办可以没有上级）", fields={"parent": ["请选择上级编办"]})
    if parent is not None:
        require_manage(actor, parent)
        if PARENT_LEVEL.get(level) != parent.level:
            raise ValidationFailed(f"{LEVELS[level]}编办的上级应为{LEVELS.get(PARENT_LEVEL.get(level), '（无）')}编办，"
                                   f"{parent.name}是{parent.level_label}", fields={"parent": ["上级层级不对"]})
    office = Office(code=code, name=name, level=level, parent_id=parent.id if parent else None, path="")
    db.session.add(office)
    db.session.flush()
    office.path = f"{parent.path if parent else '/'}{office.id}/"
    db.session.flush()
    audit(actor, "office.create", f"office:{code}", ip=ip, name=name, level=level,
          parent=parent.code if parent else None)
    return office


def create_section(actor, office, code, name, ip=None):
    require_manage(actor, office)
    code, name = _code(code), _name(name)
    if db.session.scalar(select(Section.id).where(Section.office_id == office.id, Section.code == code)):
        raise Conflict(f"{office.name}已有代码为 {code} 的科室", code="exists")
    section = Section(office_id=office.id, code=code, name=name)
    db.session.add(section)
    db.session.flush()
    audit(actor, "section.create", f"office:{office.code}", ip=ip, section=code, name=name)
    return section


def delete_section(actor, section, ip=None):
    require_manage(actor, section.office)
    owned = db.session.scalar(select(func.count()).select_from(Unit).where(Unit.section_id == section.id,
                                                                          Unit.status == "active"))
    if owned:
        raise Conflict(f"{section.name}仍归口管理 {owned} 个单位，请先把这些单位归口到其他科室", code="in_use")
    waiting = db.session.scalar(select(func.count()).select_from(OpenTask).where(OpenTask.section_id == section.id))
    if waiting:
        raise Conflict(f"{section.name}还有 {waiting} 件待办，办完或转办后才能删除", code="in_use")
    db.session.execute(db.update(Unit).where(Unit.section_id == section.id).values(section_id=None))
    audit(actor, "section.delete", f"office:{section.office.code}", ip=ip, section=section.code, name=section.name)
    db.session.delete(section)
    db.session.flush()


def _bureau_user(user, office):
    if user.office_id != office.id:
        where = user.office.name if user.office is not None else "任何编办"
        raise ValidationFailed(f"{user.display_name}属于{where}，不是{office.name}的工作人员",
                               fields={"username": ["不属于本编办"]})


def add_member(actor, section, user, duty, ip=None):
    """A reviewer joins the section (duty reviewer), or a leader takes charge of it (duty leader)."""
    require_manage(actor, section.office)
    if duty not in DUTIES:
        raise ValidationFailed("职责应为科室成员或分管领导", fields={"duty": ["请选择职责"]})
    _bureau_user(user, section.office)
    if not user.has_role(duty):
        raise ValidationFailed(f"{user.display_name}不是{'业务科室人员' if duty == 'reviewer' else '分管领导'}，"
                               f"不能担任{DUTIES[duty]}", fields={"username": ["角色不符"]})
    if db.session.scalar(select(SectionMember.id).where(SectionMember.section_id == section.id,
                                                        SectionMember.user_id == user.id,
                                                        SectionMember.duty == duty)):
        raise Conflict(f"{user.display_name}已是{section.name}的{DUTIES[duty]}", code="exists")
    row = SectionMember(section_id=section.id, user_id=user.id, duty=duty)
    db.session.add(row)
    db.session.flush()
    user.forget_sections()
    audit(actor, "section.member_add", f"user:{user.id}", ip=ip, section=section.code, duty=duty,
          username=user.username)
    return row


def remove_member(actor, section, user, duty, ip=None):
    require_manage(actor, section.office)
    row = db.session.scalar(select(SectionMember).where(SectionMember.section_id == section.id,
                                                        SectionMember.user_id == user.id, SectionMember.duty == duty))
    if row is None:
        raise NotFound(f"{user.display_name}不是{section.name}的{DUTIES.get(duty, duty)}")
    db.session.delete(row)
    db.session.flush()
    user.forget_sections()
    audit(actor, "section.member_remove", f"user:{user.id}", ip=ip, section=section.code, duty=duty,
          username=user.username)


def assign_units(actor, units, section, ip=None, preview=False):
    """归口: the units are owned by `section` from now on; one chronicle entry per unit whose
    section changes. With `preview`, nothing changes: the list of (unit, from, to) is returned.
    Open steps already routed keep their holders; steps that open from now on go to the new section."""
    require_manage(actor, section.office)
    moves = []
    for unit in units:
        if unit.office_id != section.office_id:
            where = unit_office_name(unit)
            raise ValidationFailed(f"{unit.name}属于{where}，不能归口到{section.office.name}的{section.name}",
                                   fields={"units": [f"{unit.name}不属于本编办"]})
        if unit.section_id != section.id:
            before = db.session.get(Section, unit.section_id) if unit.section_id else None
            moves.append((unit, before, section))
    if preview:
        return moves
    for unit, before, after in moves:
        unit.section_id = after.id
        chronicle(actor, None, unit, "unit", unit.id, "section",
                  f"归口科室由{before.name if before else '（未归口）'}调整为{after.name}",
                  before={"section": before.code if before else None}, after={"section": after.code})
    db.session.flush()
    if moves:
        audit(actor, "section.assign", f"office:{section.office.code}", ip=ip, section=section.code,
              unit_codes=[u.code for u, *_ in moves])
    return moves


def unit_office_name(unit):
    office = db.session.get(Office, unit.office_id) if unit.office_id else None
    return office.name if office else "（未设编办）"


def create_department(actor, office, code, name, ip=None):
    require_manage(actor, office)
    code, name = _code(code), _name(name)
    if db.session.scalar(select(PartnerDepartment.id).where(PartnerDepartment.office_id == office.id,
                                                            PartnerDepartment.code == code)):
        raise Conflict(f"{office.name}已有代码为 {code} 的联审部门", code="exists")
    dept = PartnerDepartment(office_id=office.id, code=code, name=name)
    db.session.add(dept)
    db.session.flush()
    audit(actor, "department.create", f"office:{office.code}", ip=ip, department=code, name=name)
    return dept


def delete_department(actor, dept, ip=None):
    require_manage(actor, dept.office)
    waiting = db.session.scalar(select(func.count()).select_from(OpenTask).where(
        OpenTask.partner_department_id == dept.id))
    if waiting:
        raise Conflict(f"{dept.name}还有 {waiting} 件待办，办完后才能删除", code="in_use")
    staff = db.session.scalar(select(func.count()).select_from(User).where(User.partner_department_id == dept.id,
                                                                           User.active.is_(True)))
    if staff:
        raise Conflict(f"{dept.name}还有 {staff} 名在用账号，请先停用或调出", code="in_use")
    audit(actor, "department.delete", f"office:{dept.office.code}", ip=ip, department=dept.code, name=dept.name)
    db.session.delete(dept)
    db.session.flush()


def place_user(actor, user, office=None, department=None, ip=None, move=False):
    """Put a bureau user in an office, or a partner user in a department (and its office). A user
    belongs to one office: one already in another office is refused unless `move` says the move
    is meant (调出), and then only by whoever manages both offices; moving clears their section
    places in the old one."""
    if department is not None:
        office = department.office
        if not user.has_role("partner"):
            raise ValidationFailed(f"{user.display_name}不是联审部门账号", fields={"department": ["角色不符"]})
    if office is None:
        raise ValidationFailed("请指定编办", fields={"office": ["请选择编办"]})
    require_manage(actor, office)
    if user.has_role("unit_clerk"):
        raise ValidationFailed(f"{user.display_name}是单位经办人，所属编办随其单位", fields={"office": ["单位经办人不设编办"]})
    if department is None and user.has_role("partner"):
        raise ValidationFailed(f"{user.display_name}是联审部门账号，请指定其所属的联审部门",
                               fields={"department": ["请选择联审部门"]})
    old = db.session.get(Office, user.office_id) if user.office_id not in (None, office.id) else None
    if old is not None:
        if not move:
            raise Conflict(f"{user.display_name}已属于{old.name}，一个用户只能属于一个编办；"
                           f"确需调至{office.name}的，请勾选“确认调出”（原编办的科室职务将一并取消）",
                           code="other_office")
        require_manage(actor, old)
    if user.office_id not in (None, office.id):
        db.session.execute(db.delete(SectionMember).where(SectionMember.user_id == user.id))
        user.forget_sections()
    user.office_id = office.id
    user.partner_department_id = department.id if department is not None else None
    db.session.flush()
    audit(actor, "user.office", f"user:{user.id}", ip=ip, office=office.code,
          department=department.code if department else None, moved_from=old.code if old else None)
    return user


# ---------------------------------------------------------------- what the admin pages and the CLI pick

UNIT_KINDS = ("党政机关", "事业单位")
BUREAU_ROLES = tuple(sorted(BUREAU_READERS | {"process_owner"}))  # staff of an office (not clerks, not partners)


def user_by_name(text, office=None, field="username"):
    """The user named by username, or (within `office`) by display name when that is unambiguous."""
    name = str(text or "").strip()
    if not name:
        raise ValidationFailed("请填写用户名或姓名", fields={field: ["请填写用户名或姓名"]})
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None and office is not None:
        same = db.session.scalars(select(User).where(User.display_name == name, User.office_id == office.id)).all()
        if len(same) > 1:
            raise ValidationFailed(f"{office.name}有 {len(same)} 人名为{name}，请改填用户名："
                                   f"{'、'.join(u.username for u in same)}", fields={field: ["重名，请填用户名"]})
        user = same[0] if same else None
    if user is None:
        raise ValidationFailed(f"用户「{name}」不存在", fields={field: ["用户不存在"]})
    return user


def office_staff(office):
    """The office's bureau users (partners are listed under their departments), by username."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(User.office_id == office.id, UserRole.role.in_(BUREAU_ROLES)))
    return db.session.scalars(query.order_by(User.username)).unique().all()


def unplaced_staff():
    """Active bureau users in no office yet (made by create-user, or before offices existed)."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(User.office_id.is_(None), User.active.is_(True), UserRole.role.in_(BUREAU_ROLES)))
    return db.session.scalars(query.order_by(User.username)).unique().all()


def department_users(dept):
    return db.session.scalars(select(User).where(User.partner_department_id == dept.id)
                              .order_by(User.username)).all()


def office_units(office, kind=None, section=None):
    """The office's active units, by code; `section` "none" for those 归口 to no section."""
    query = select(Unit).where(Unit.office_id == office.id, Unit.status == "active")
    if kind:
        query = query.where(Unit.kind == kind)
    if section == "none":
        query = query.where(Unit.section_id.is_(None))
    elif section is not None:
        query = query.where(Unit.section_id == section.id)
    return db.session.scalars(query.order_by(Unit.code)).all()


def units_to_assign(office, codes=(), kind=None):
    """The units a 归口 change names: those of `codes` (统一社会信用代码) and, with `kind`, every
    active unit of that kind in the office. An unknown or abolished code is refused; a unit of
    another office is returned as it is, for assign_units to refuse by name."""
    if kind and kind not in UNIT_KINDS:
        raise ValidationFailed(f"机构类别应为：{'、'.join(UNIT_KINDS)}", fields={"kind": ["请选择机构类别"]})
    wanted = list(dict.fromkeys(str(c).strip().upper() for c in codes if str(c or "").strip()))
    found = {u.code: u for u in db.session.scalars(select(Unit).where(Unit.code.in_(wanted)))} if wanted else {}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise ValidationFailed(f"没有统一社会信用代码为 {'、'.join(unknown)} 的单位", fields={"units": ["单位不存在"]})
    gone = [u.name for u in found.values() if u.status != "active"]
    if gone:
        raise ValidationFailed(f"{'、'.join(gone)}已撤销，不能调整归口", fields={"units": ["单位已撤销"]})
    units = [found[c] for c in wanted]
    if kind:
        units += [u for u in office_units(office, kind=kind) if u.code not in found]
    if not units:
        raise ValidationFailed("请勾选要调整的单位，或选择一类单位", fields={"units": ["请选择单位"]})
    return units


def office_overview(office):
    """For the tree: the office's sections with how many units each owns and its members, and
    how many of the office's active units are 归口 to no section."""
    counts = unit_counts(office)
    rows = []
    for section in sections_of(office):
        people = members(section)
        rows.append({"section": section, "units": counts.get(section.id, 0),
                     "reviewers": [m.user for m in people if m.duty == "reviewer"],
                     "leaders": [m.user for m in people if m.duty == "leader"]})
    return {"sections": rows, "unsectioned": counts.get(None, 0), "units": sum(counts.values())}


def managed_offices(user):
    """The offices `user` manages (their own and every one below), by path: [] for anyone else."""
    if not user.has_role("admin") or user.office_id is None:
        return []
    mine = db.session.get(Office, user.office_id)
    if mine is None:
        return []
    return db.session.scalars(select(Office).where(Office.path.startswith(mine.path)).order_by(Office.path)).all()
