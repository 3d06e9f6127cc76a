"""Following a case up: urging (催办) its open step, and copying (抄送) it to someone for
information. Both are recorded and tell the people concerned through notifications."""
from datetime import timedelta

from sqlalchemy import select

from .. import clock
from ..accounts.models import User
from ..audit.operations import record as audit
from ..cases import operations as cases
from ..errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from ..extensions import db
from ..ledger.policy import setting
from ..notifications.operations import notify
from ..util import local
from .assignment import holders
from .models import CaseCopy, Urge
from .operations import clean_note

URGERS = frozenset({"unit_clerk", "leader"})  # the access matrix's roles for 催办
COPIERS = frozenset({"unit_clerk", "reviewer", "leader"})  # and for 抄送


def can_urge(user, case):
    """A clerk of the applying unit, or a leader, may urge a running case's open steps."""
    if case.finished_at is not None or not case.open_tasks:
        return False
    if user.has_role("leader"):
        return True
    return user.has_role("unit_clerk") and user.unit_id == case.unit_id and any(
        t.role != "unit_clerk" for t in case.open_tasks)


def urge(user, case_id, task_id=None, note=None, ip=None):
    """催办 the case's open steps (or one of them): their holders are notified. One urge per
    step and person every URGE_INTERVAL_HOURS. Returns the Urge rows written."""
    case = cases.get_case(user, case_id)
    if not (user.has_role("leader") or (user.has_role("unit_clerk") and user.unit_id == case.unit_id)):
        raise Forbidden("只有申请单位的经办人或分管领导可以催办")
    tasks = list(case.open_tasks)
    if task_id is not None:
        tasks = [t for t in tasks if t.id == task_id]
        if not tasks:
            raise NotFound("该环节不在办理中")
    if not tasks:
        raise Conflict("案件没有在办的环节，无需催办", code="nothing_open")
    if user.has_role("unit_clerk") and not user.has_role("leader"):
        tasks = [t for t in tasks if t.role != "unit_clerk"]
        if not tasks:
            raise Conflict("当前环节由本单位办理，无需催办", code="own_step")
    now = clock.now()
    hours = setting("URGE_INTERVAL_HOURS")
    note = clean_note(note)
    written, refused = [], []
    for task in tasks:
        last = db.session.scalar(select(Urge).where(Urge.task_id == task.id, Urge.user_id == user.id,
                                                    Urge.at > now - timedelta(hours=hours))
                                 .order_by(Urge.at.desc()).limit(1))
        if last is not None:
            refused.append((task, last))
            continue
        row = Urge(case_id=case.id, task_id=task.id, step=task.name, user_id=user.id, note=note, at=now)
        db.session.add(row)
        written.append(row)
        due = f"，办理期限 {task.due_date}" if task.due_date else ""
        notify(holders(task), "urge", f"催办：{user.display_name}催办「{case.number} {task.name}」{due}",
               body=note, case=case, link=f"/tasks/{task.id}", exclude=user)
    if not written:
        task, last = refused[0]
        raise RateLimited(f"您已于 {local(last.at)} 催办过「{task.name}」，{hours} 小时内只能催办一次")
    db.session.flush()
    audit(user, "case.urge", f"case:{case.id}", ip=ip, number=case.number, steps=[r.step for r in written])
    return written


def urges_of(case):
    return db.session.scalars(select(Urge).where(Urge.case_id == case.id).order_by(Urge.id)).all()


def can_copy(user, case):
    """Bureau staff who handle cases, and the applying unit's clerks (a case they may see)."""
    return user.has_role(*COPIERS) and case.can_view(user)


def copy_case(user, case_id, usernames, note=None, ip=None):
    """抄送 the case to colleagues for information; each must be allowed to see it."""
    case = cases.get_case(user, case_id)
    if not can_copy(user, case):
        raise Forbidden("只有编办工作人员或申请单位经办人可以抄送")
    names = [n.strip() for n in (usernames or []) if isinstance(n, str) and n.strip()
             and "\x00" not in n and len(n) <= 64]
    if not names:
        raise ValidationFailed("请选择抄送对象", fields={"to": ["必填"]})
    if len(names) > 20:
        raise ValidationFailed("一次最多抄送 20 人", fields={"to": ["过多"]})
    found = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}
    errors = []
    for name in names:
        recipient = found.get(name)
        if recipient is None or not recipient.active:
            errors.append(f"用户「{name}」不存在或已停用")
        elif recipient.id == user.id:
            errors.append("不能抄送给自己")
        elif not case.can_view(recipient):
            errors.append(f"{recipient.display_name}无权查看此案件，不能抄送")
    if errors:
        raise ValidationFailed("抄送对象有误", fields={"to": errors})
    already = set(db.session.scalars(select(CaseCopy.user_id).where(CaseCopy.case_id == case.id)))
    recipients = [found[n] for n in dict.fromkeys(names) if found[n].id not in already]
    if not recipients:
        raise Conflict("已抄送过这些同事", code="already_copied")
    note = clean_note(note)
    now = clock.now()
    rows = [CaseCopy(case_id=case.id, user_id=r.id, by_id=user.id, note=note, at=now) for r in recipients]
    db.session.add_all(rows)
    db.session.flush()
    audit(user, "case.cc", f"case:{case.id}", ip=ip, number=case.number, to=[r.username for r in recipients])
    notify(recipients, "cc", f"抄送：{user.display_name}抄送「{case.number} {case.title}」供您知悉",
           body=note, case=case)
    return rows


def copied_to(case):
    return db.session.scalars(select(CaseCopy).where(CaseCopy.case_id == case.id).order_by(CaseCopy.id)).all()
