"""Unit lifecycle (create, rename, move, merge, abolish), the approving documents every change
carries, and the 消化 (absorption) records; the establishment, post and department adjustments
of existing units are in ledger/establishment.py.

Every change carries its approving document (批准文号, date, title, optional PDF) and is a
chronicle entry, before → after; the figure changes carry deltas ({"category", "approved",
"on_roll", "reserved"}) so ledger/history.figures_as_of replays any past date exactly.
Chronicle names others rely on: entity "unit" create/rename/move/merge/abolish; "establishment"
adjust/transfer; "post_quota" adjust; "department" add/rename/remove.

Rules take the acting user, change the session, flush, never commit. Each change also writes its
audit entry (`audited`: "unit.<action>" on the unit, with the document), so no caller — page, API,
a case's decision, a command or an import — can leave it out. Establishment lines are
locked (FOR UPDATE) in id order, as ledger/vacancy.py does, so concurrent cases stay exact.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from stdnum.cn import uscc

from .. import clock
from ..audit.operations import record as audit
from ..cases.models import Case
from ..documents import operations as documents
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from .models import (CATEGORIES, FUNDING, Absorption, Department, Establishment, Person, PostQuota,
                     Reservation, TempQuota, TempStaff, Unit)
from ..organisation.models import Office
from .operations import chronicle, figure, figures, require_change_unit

KINDS = ("党政机关", "事业单位")
POST_KINDS = {"leadership": "领导职数", "midlevel": "中层职数"}
POST_LEVELS = ("正职", "副职")
NAMES_LISTED = 10  # how many people or cases a refusal names


@dataclass
class Approval:
    """The approving document of a change: 批准文号, date, title, optional PDF."""
    number: str
    issued_on: date
    title: str = ""
    pdf: bytes | None = None
    case: object = None  # the case whose decision it is (the 编制调整 process)


def approval_from(values, default_title=""):
    """An Approval from form or JSON values (doc_number, doc_date, doc_title); raises
    ValidationFailed naming the missing fields."""
    number = str(values.get("doc_number") or "").strip()
    when = str(values.get("doc_date") or "").strip()
    errors = {}
    if not number:
        errors["doc_number"] = ["请填写批准文号"]
    elif len(number) > 64:
        errors["doc_number"] = ["批准文号最多 64 个字"]
    issued_on = None
    if not when:
        errors["doc_date"] = ["请填写批准日期"]
    else:
        try:
            issued_on = date.fromisoformat(when)
        except ValueError:
            errors["doc_date"] = ["批准日期格式应为 YYYY-MM-DD"]
        else:
            if issued_on > clock.today():
                errors["doc_date"] = [f"批准日期 {when} 晚于今天"]
    title = str(values.get("doc_title") or "").strip()[:200] or default_title
    if errors:
        raise ValidationFailed("每项调整须有批准文件：" + "；".join(m[0] for m in errors.values()), fields=errors)
    return Approval(number=number, issued_on=issued_on, title=title or number, pdf=values.get("doc_pdf") or None)


def audited(user, action, unit, approval, ip=None, **detail):
    """The audit entry of one register change ("unit.<action>" on `unit`), written by the rule."""
    audit(user, f"unit.{action}", f"unit:{unit.code}", ip=ip, document=approval.number, **detail)


class Recorder:
    """Writes the chronicle entries of one operation and links each to its document."""

    def __init__(self, user, approval, units):
        require_change_unit(user, *units)  # an editor changes their office's jurisdiction only
        self.user, self.approval = user, approval
        # an already registered number is reused (a change may cite an existing document)
        self.document = documents.register(user, approval.number, approval.title or approval.number, approval.issued_on,
                                           kind="批复", pdf=approval.pdf, unit_ids=[u.id for u in units],
                                           case=approval.case)
        self.number = self.document.number

    def __call__(self, unit, entity, entity_id, action, summary, before=None, after=None, delta=None, link=True):
        """`link=False` for the many per-person entries of a merge: they name the document, and
        the merge's unit entries carry the link."""
        number = self.number
        after = dict(after or {}, document=number)
        entry = chronicle(self.user, self.approval.case, unit, entity, entity_id, action,
                          f"{summary}（依据 {number}）", before=before, after=after, delta=delta)
        if link:
            documents.link(self.document, unit=unit, chronicle_entry=entry, case=self.approval.case,
                           user=self.user)
        return entry


# ---------------------------------------------------------------- reading

def active_units():
    return select(Unit).where(Unit.status == "active").order_by(Unit.code)


def require_active(unit, what="该单位"):
    if unit.status != "active":
        raise Conflict(f"{what}（{unit.name}）已撤销，不能再调整", code="unit_abolished")


def lock_lines(unit_ids, categories=None):
    """Lock the establishment lines of the units in id order (one order for every caller)."""
    query = select(Establishment).where(Establishment.unit_id.in_(unit_ids))
    if categories is not None:
        query = query.where(Establishment.category.in_(categories))
    return db.session.scalars(query.order_by(Establishment.id).with_for_update()
                              .execution_options(populate_existing=True)).all()


def establishment_line(unit, category, create=False):
    est = db.session.scalar(select(Establishment).where(Establishment.unit_id == unit.id,
                                                        Establishment.category == category))
    if est is None and create:
        est = Establishment(unit_id=unit.id, category=category, approved=0)
        db.session.add(est)
        db.session.flush()
    return est


def check_category(category):
    if category not in CATEGORIES:
        raise ValidationFailed(f"编制类型应为：{'、'.join(CATEGORIES)}", fields={"category": ["请选择编制类型"]})


def names_of(people):
    names = "、".join(p.name for p in people[:NAMES_LISTED])
    return names + (f"等 {len(people)} 人" if len(people) > NAMES_LISTED else "")


def _unfinished_cases(unit):
    return db.session.scalars(select(Case).where(Case.unit_id == unit.id, Case.finished_at.is_(None))
                              .order_by(Case.id)).all()


def absorption_warnings(unit, today=None):
    """Open 消化 records whose line is still over (on roll + reserved > approved), with the
    current excess and whether the target date has passed."""
    today = today or clock.today()
    figs = {f["category"]: f for f in figures(unit)}
    result = []
    for rec in db.session.scalars(select(Absorption).where(Absorption.unit_id == unit.id, Absorption.status == "open")
                                  .order_by(Absorption.id)):
        fig = figs.get(rec.category)
        excess = fig["on_roll"] + fig["reserved"] - fig["approved"] if fig else 0
        if excess > 0:
            result.append({"record": rec, "category": rec.category, "excess": excess, "decided_excess": rec.excess,
                           "target_date": rec.target_date, "document": rec.document,
                           "overdue": rec.target_date < today,
                           "text": f"{rec.category}超编 {excess} 名待消化（{rec.document} 核定，期限 "
                                   f"{rec.target_date.isoformat()}{'，已逾期' if rec.target_date < today else ''}）"})
    return result


def close_absorbed(unit):
    """Close the open 消化 records of lines that are back within their approved number."""
    figs = {f["category"]: f for f in figures(unit)}
    for rec in db.session.scalars(select(Absorption).where(Absorption.unit_id == unit.id, Absorption.status == "open")):
        fig = figs.get(rec.category)
        if fig is None or fig["on_roll"] + fig["reserved"] <= fig["approved"]:
            rec.status, rec.closed_at = "closed", clock.now()


def absorb(user, unit, category, excess, absorb_until, approval, why):
    """Record a deliberate excess (消化), or refuse the change with the figures."""
    if absorb_until is None:
        raise ValidationFailed(f"{why}，将超编 {excess} 名；如确需调整，请选择「超编消化」并填写消化期限",
                               fields={"approved": [why]}, code="would_be_over")
    if absorb_until <= clock.today():
        raise ValidationFailed("消化期限应晚于今天", fields={"absorb_until": ["消化期限应晚于今天"]})
    rec = Absorption(unit_id=unit.id, category=category, excess=excess, target_date=absorb_until,
                     document=approval.number, user_id=user.id if user else None,
                     case_id=approval.case.id if approval.case else None)
    db.session.add(rec)
    return rec


# ---------------------------------------------------------------- lifecycle

def check_code(code):
    code = (code or "").strip().upper()
    if not uscc.is_valid(code):
        message = f"统一社会信用代码「{code}」无效：应为 18 位，且校验位正确"
        raise ValidationFailed(message, fields={"code": [message]})
    if db.session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        message = f"统一社会信用代码 {code} 已被其他单位使用"
        raise ValidationFailed(message, fields={"code": [message]})
    return code


def _check_name(name, except_id=None):
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationFailed("请填写单位名称（最多 128 个字）", fields={"name": ["必填，最多 128 个字"]})
    query = select(Unit).where(Unit.name == name, Unit.status == "active")
    if except_id:
        query = query.where(Unit.id != except_id)
    if db.session.scalar(query) is not None:
        raise ValidationFailed(f"已有名为「{name}」的单位", fields={"name": ["与现有单位重名"]})
    return name


def _new_unit_place(user, parent):
    """Where a new unit belongs: under `parent`, the parent's office and section (归口); at the top
    level, the office of the user who sets it up, no section yet (an admin assigns it)."""
    if parent is not None:
        require_change_unit(user, parent)
        return parent.office_id, parent.section_id
    office_id = user.home_office_id if user is not None else None
    if office_id is None or db.session.get(Office, office_id) is None:
        raise ValidationFailed("无法确定新单位所属编办：请选择上级单位，或由所属编办的工作人员设立",
                               fields={"parent": ["请选择上级单位"]})
    return office_id, None


def create_unit(user, approval, code, name, kind, parent=None, level=None, nature=None, funding=None,
                system=None, functions=None, ip=None):
    """Set up a unit. It belongs to its parent's office and section, else to the office of the
    user who sets it up (without a section until an admin assigns it, organisation.assign_units)."""
    code, name = check_code(code), _check_name(name)
    if kind not in KINDS:
        raise ValidationFailed(f"机构类别应为：{'、'.join(KINDS)}", fields={"kind": ["请选择机构类别"]})
    if funding and funding not in FUNDING:
        raise ValidationFailed(f"经费形式应为：{'、'.join(FUNDING)}", fields={"funding": ["请选择经费形式"]})
    if parent is not None:
        require_active(parent, "上级单位")
    office_id, section_id = _new_unit_place(user, parent)
    unit = Unit(code=code, name=name, kind=kind, parent_id=parent.id if parent else None, level=level or None,
                office_id=office_id, section_id=section_id,
                nature=nature or None, funding=funding or None, system=system or None, founded=approval.issued_on,
                approval_doc=approval.number, functions=functions or None, status="active")
    db.session.add(unit)
    db.session.flush()
    record = Recorder(user, approval, [unit])
    unit.approval_doc = record.number
    record(unit, "unit", unit.id, "create", f"设立{name}" + (f"，隶属{parent.name}" if parent else ""),
           after={"code": code, "name": name, "kind": kind, "parent": parent.code if parent else None,
                  "level": unit.level, "funding": unit.funding})
    audited(user, "create", unit, approval, ip=ip)
    return unit


def rename_unit(user, unit, name, approval, ip=None):
    require_change_unit(user, unit)
    require_active(unit)
    name = _check_name(name, except_id=unit.id)
    if name == unit.name:
        raise ValidationFailed("新名称与现名称相同", fields={"name": ["新名称与现名称相同"]})
    old = unit.name
    unit.name = name
    Recorder(user, approval, [unit])(unit, "unit", unit.id, "rename", f"{old} 更名为 {name}",
                                      before={"name": old}, after={"name": name})
    audited(user, "rename", unit, approval, ip=ip)
    return unit


def move_unit(user, unit, parent, approval, ip=None):
    """Put `unit` under `parent` (None: top level). Refused when it would make a cycle, or when
    `parent` belongs to another office (a unit stays in its office's jurisdiction)."""
    require_change_unit(user, unit, parent)
    require_active(unit)
    if parent is not None:
        require_active(parent, "上级单位")
        if parent.office_id != unit.office_id:
            raise ValidationFailed(f"{parent.name}属于其他编办，不能作为{unit.name}的上级单位",
                                   fields={"parent": ["上级单位须属于同一编办"]})
        node = parent
        while node is not None:
            if node.id == unit.id:
                raise ValidationFailed(f"不能把{unit.name}调整到其自身或其下属单位（{parent.name}）之下",
                                       fields={"parent": ["会形成循环隶属"]})
            node = node.parent
    if (parent.id if parent else None) == unit.parent_id:
        raise ValidationFailed("隶属关系没有变化", fields={"parent": ["与现上级单位相同"]})
    old = unit.parent
    unit.parent_id = parent.id if parent else None
    Recorder(user, approval, [unit])(
        unit, "unit", unit.id, "move",
        f"{unit.name} 隶属关系由{old.name if old else '（无上级）'}调整为{parent.name if parent else '（无上级）'}",
        before={"parent": old.code if old else None}, after={"parent": parent.code if parent else None})
    db.session.flush()
    audited(user, "move", unit, approval, ip=ip)
    return unit


def _refuse_open_cases(unit, doing):
    open_cases = _unfinished_cases(unit)
    if open_cases:
        numbers = "、".join(c.number for c in open_cases[:NAMES_LISTED])
        raise Conflict(f"{unit.name}还有 {len(open_cases)} 件在办案件（{numbers}），请先办结或撤回后再{doing}",
                       code="open_cases")


def merge_units(user, source, target, approval, ip=None):
    """Merge `source` into `target`: its people, establishment lines, post quotas, departments,
    plan reservations, temp staff, open 消化 records and subordinate units move to `target`;
    `source` is abolished and points to `target`. Refused while `source` has unfinished cases
    (their workflow and figures belong to the old unit: finish or withdraw them first)."""
    require_change_unit(user, source, target)
    if source.id == target.id:
        raise ValidationFailed("不能把单位并入其自身", fields={"target": ["请选择另一个单位"]})
    require_active(source, "被合并单位")
    require_active(target, "并入单位")
    _refuse_open_cases(source, "合并")
    record = Recorder(user, approval, [source, target])
    lock_lines(sorted({source.id, target.id}))
    src_figs = {f["category"]: f for f in figures(source)}
    src_lines = db.session.scalars(select(Establishment).where(Establishment.unit_id == source.id)
                                   .order_by(Establishment.id)).all()
    # departments first, so people keep theirs
    target_departments = {d.name: d for d in db.session.scalars(select(Department)
                                                                .where(Department.unit_id == target.id))}
    dept_map = {}
    for dept in db.session.scalars(select(Department).where(Department.unit_id == source.id).order_by(Department.id)):
        same = target_departments.get(dept.name)
        if same is None:
            dept.unit_id = target.id
            record(target, "department", dept.id, "add", f"{source.name}内设机构{dept.name}随合并转入{target.name}",
                   before={"unit": source.code, "name": dept.name}, after={"unit": target.code, "name": dept.name})
        else:
            dept_map[dept.id] = same.id
    people = db.session.scalars(select(Person).where(Person.unit_id == source.id, Person.status == "on_roll")
                                .order_by(Person.id)).all()
    for person in people:
        person.unit_id = target.id
        if person.work_unit_id in (None, source.id):
            person.work_unit_id = target.id
        if person.department_id in dept_map:
            person.department_id = dept_map[person.department_id]
        record(target, "person", person.id, "merge", f"{person.name} 随{source.name}并入{target.name}",
               before={"unit": source.code}, after={"unit": target.code}, link=False)
    db.session.flush()
    for dept_id, same_id in dept_map.items():
        retire_department(db.session.get(Department, dept_id), same_id)
        record(source, "department", dept_id, "remove", f"{source.name}内设机构并入{target.name}同名内设机构",
               after={"merged_into": same_id})
    for reservation in db.session.scalars(select(Reservation).where(Reservation.unit_id == source.id,
                                                                    Reservation.status == "active")):
        reservation.unit_id = target.id
    for quota in db.session.scalars(select(TempQuota).where(TempQuota.unit_id == source.id)):
        quota.unit_id = target.id
    for staff in db.session.scalars(select(TempStaff).where(TempStaff.unit_id == source.id,
                                                            TempStaff.status == "active")):
        staff.unit_id = target.id
    for rec in db.session.scalars(select(Absorption).where(Absorption.unit_id == source.id,
                                                           Absorption.status == "open")):
        rec.unit_id = target.id
    db.session.flush()
    for line in src_lines:
        fig = src_figs[line.category]
        moved = {"approved": line.approved, "on_roll": fig["on_roll"], "reserved": fig["reserved"]}
        if not any(moved.values()):
            continue
        into = establishment_line(target, line.category, create=True)
        before_target = into.approved
        into.approved += line.approved
        line.approved = 0
        record(source, "unit", source.id, "merge",
               f"{source.name}并入{target.name}：{line.category}核定 {moved['approved']} 名、在编 {moved['on_roll']} 名、"
               f"预留 {moved['reserved']} 名转出", before=dict(moved), after={"approved": 0, "on_roll": 0, "reserved": 0},
               delta={"category": line.category, **{k: -v for k, v in moved.items()}})
        record(target, "unit", target.id, "merge",
               f"{source.name}并入本单位：{line.category}核定 {moved['approved']} 名、在编 {moved['on_roll']} 名、"
               f"预留 {moved['reserved']} 名转入", before={"approved": before_target},
               after={"approved": into.approved}, delta={"category": line.category, **moved})
    for quota in db.session.scalars(select(PostQuota).where(PostQuota.unit_id == source.id).order_by(PostQuota.id)):
        if quota.approved:
            into = quota_line(target, quota.kind, quota.level, create=True)
            record(target, "post_quota", into.id, "adjust",
                   f"{source.name}并入：{POST_KINDS[quota.kind]}{quota.level}增加 {quota.approved} 名",
                   before={"approved": into.approved}, after={"approved": into.approved + quota.approved})
            record(source, "post_quota", quota.id, "adjust",
                   f"并入{target.name}：{POST_KINDS[quota.kind]}{quota.level}转出 {quota.approved} 名",
                   before={"approved": quota.approved}, after={"approved": 0})
            into.approved += quota.approved
            quota.approved = 0
    for child in db.session.scalars(select(Unit).where(Unit.parent_id == source.id)):
        if child.id == target.id:
            child.parent_id = source.parent_id
        else:
            child.parent_id = target.id
    if target.parent_id == source.id:
        target.parent_id = source.parent_id
    source.status, source.abolished_on, source.merged_into_id = "abolished", approval.issued_on, target.id
    record(source, "unit", source.id, "abolish", f"{source.name}并入{target.name}，本单位撤销",
           before={"status": "active"}, after={"status": "abolished", "merged_into": target.code})
    record(target, "unit", target.id, "merge", f"{source.name}（{len(people)} 名在编人员）并入本单位",
           before=None, after={"merged": source.code, "people": len(people)})
    db.session.flush()
    close_absorbed(target)
    audited(user, "merge", source, approval, ip=ip, into=target.code)
    return target


def retire_department(dept, replacement_id=None):
    """Delete a department row; people who left keep its name in their record."""
    for person in db.session.scalars(select(Person).where(Person.department_id == dept.id)):
        if person.status == "on_roll" and replacement_id is not None:
            person.department_id = replacement_id
            continue
        person.details = dict(person.details or {}, department_name=dept.name)
        person.department_id = None
    db.session.flush()
    db.session.delete(dept)


def abolish_unit(user, unit, approval, ip=None):
    """Abolish `unit`: refused while people are on its roll (the message names them), while it
    has unfinished cases, active reservations, active temp staff or active subordinate units.
    Its establishment and post lines go to 0 (with chronicle deltas); its rows stay."""
    require_change_unit(user, unit)
    require_active(unit)
    people = db.session.scalars(select(Person).where(Person.unit_id == unit.id, Person.status == "on_roll")
                                .order_by(Person.id)).all()
    if people:
        raise Conflict(f"该单位仍有 {len(people)} 名在编人员：{names_of(people)}，请先调出或办理出编",
                       code="people_on_roll")
    _refuse_open_cases(unit, "撤销")
    held = db.session.scalar(select(func.sum(Reservation.count - Reservation.used))
                             .where(Reservation.unit_id == unit.id, Reservation.status == "active")) or 0
    if held:
        raise Conflict(f"该单位仍有预留编制 {held} 名（已核准的用编计划或空编使用），请先释放后再撤销",
                       code="reservations")
    temps = db.session.scalars(select(TempStaff).where(TempStaff.unit_id == unit.id, TempStaff.status == "active")
                               .order_by(TempStaff.id)).all()
    if temps:
        raise Conflict(f"该单位仍有 {len(temps)} 名临聘人员：{names_of(temps)}，请先办理解聘", code="temp_staff")
    children = db.session.scalars(select(Unit).where(Unit.parent_id == unit.id, Unit.status == "active")
                                  .order_by(Unit.code)).all()
    if children:
        raise Conflict(f"该单位仍有下属单位：{'、'.join(c.name for c in children)}，请先调整隶属关系或撤销",
                       code="children")
    record = Recorder(user, approval, [unit])
    for line in lock_lines([unit.id]):
        if line.approved:
            record(unit, "establishment", line.id, "adjust", f"{unit.name}撤销，{line.category}核定数核销",
                   before={"approved": line.approved}, after={"approved": 0},
                   delta={"category": line.category, "approved": -line.approved})
            line.approved = 0
    for quota in db.session.scalars(select(PostQuota).where(PostQuota.unit_id == unit.id)):
        if quota.approved:
            record(unit, "post_quota", quota.id, "adjust", f"{unit.name}撤销，{POST_KINDS[quota.kind]}{quota.level}核销",
                   before={"approved": quota.approved}, after={"approved": 0})
            quota.approved = 0
    unit.status, unit.abolished_on = "abolished", approval.issued_on
    record(unit, "unit", unit.id, "abolish", f"撤销{unit.name}", before={"status": "active"},
           after={"status": "abolished"})
    db.session.flush()
    audited(user, "abolish", unit, approval, ip=ip)
    return unit


def quota_line(unit, kind, level, create=False, lock=False):
    query = select(PostQuota).where(PostQuota.unit_id == unit.id, PostQuota.kind == kind, PostQuota.level == level)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    quota = db.session.scalar(query)
    if quota is None and create:
        quota = PostQuota(unit_id=unit.id, kind=kind, level=level, approved=0)
        db.session.add(quota)
        db.session.flush()
    return quota
