"""The inbox's lists: 待办 (filtered, sorted by urgency, keyset-paged), 已办, 我发起, 抄送, and
the filters a user saves. Reads only open_tasks, cases and steps: no workflow blob, no engine."""
import base64
import binascii
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import contains_eager, selectinload

from .. import clock
from ..cases import operations as cases
from ..cases.models import NO_LIMIT, Case, CaseStep, OpenTask
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..ledger.models import Unit
from ..ledger.policy import setting
from ..organisation import scope
from ..processes.models import ProcessVersion
from ..workdays import add_workdays
from .models import CaseCopy, SavedFilter

PAGE = 50
TASK_ID = re.compile(r"^[0-9a-f-]{36}$")
API_PAGE_MAX = 500
COUNT_CAP = 1000  # the nav shows "999+" beyond this; counting further costs without telling more
DUE_CHOICES = {"": "全部", "overdue": "已超期", "today": "今日到期", "soon": "即将到期", "none": "无时限"}
SCOPES = {"mine": "可办理", "claimed": "我认领的", "group": "本组全部（含他人认领）"}


def clean_note(text, limit=200):
    """A free-text note as stored: trimmed, without NUL characters, at most `limit` characters."""
    if not isinstance(text, str):
        return None
    return text.replace("\x00", "").strip()[:limit] or None


@dataclass(frozen=True)
class Filters:
    process: str = ""
    unit: str = ""  # unit code
    due: str = ""
    q: str = ""
    scope: str = "mine"

    @classmethod
    def from_args(cls, args):
        """From query arguments (or a saved filter's dict); refuses unknown values."""
        values = {k: str(args.get(k) or "").strip() for k in ("process", "unit", "due", "q", "scope")}
        values["scope"] = values["scope"] or "mine"
        errors = {}
        if values["due"] not in DUE_CHOICES:
            errors["due"] = [f"应为 {'、'.join(k for k in DUE_CHOICES if k)} 之一"]
        if values["scope"] not in SCOPES:
            errors["scope"] = [f"应为 {'、'.join(SCOPES)} 之一"]
        if len(values["q"]) > 100:
            errors["q"] = ["检索词不超过 100 字"]
        for key, value in values.items():
            if "\x00" in value or len(value) > 100:
                errors[key] = ["含有不允许的字符或过长"]
        if errors:
            raise ValidationFailed("筛选条件有误", fields=errors)
        return cls(**values)

    def as_dict(self):
        return {k: v for k, v in asdict(self).items() if v and not (k == "scope" and v == "mine")}

    @property
    def empty(self):
        return not self.as_dict()


def tasks_query(user, filters):
    """The select behind 待办: cases.inbox (claims, transfers, delegations) narrowed by the
    filters, in urgency order (ix_open_tasks_urgency)."""
    query = cases.inbox(user, claimed_by_others=filters.scope == "group")
    if filters.scope == "claimed":
        query = query.where(OpenTask.assignee_id == user.id)
    if filters.process:
        query = query.where(Case.process_key == filters.process)
    if filters.unit:
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == filters.unit))
        query = query.where(Case.unit_id == (unit_id or -1))
    today = clock.today()
    if filters.due == "overdue":
        query = query.where(OpenTask.sort_due < today)
    elif filters.due == "today":
        query = query.where(OpenTask.sort_due == today)
    elif filters.due == "soon":
        query = query.where(OpenTask.sort_due >= today,
                            OpenTask.sort_due <= add_workdays(today, setting("DUE_SOON_WORKDAYS")))
    elif filters.due == "none":
        query = query.where(OpenTask.sort_due == NO_LIMIT)
    if filters.q:
        like = filters.q
        query = query.join(Unit, Unit.id == Case.unit_id).where(or_(
            Case.number.contains(like, autoescape=True), Case.title.contains(like, autoescape=True),
            Unit.name.contains(like, autoescape=True), OpenTask.name.contains(like, autoescape=True)))
    return query


def encode_cursor(task):
    raw = f"{task.sort_due.isoformat()}|{task.created_at.isoformat()}|{task.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, created, task_id = raw.split("|", 2)
        if not TASK_ID.match(task_id):
            raise ValueError(task_id)
        return date.fromisoformat(due), datetime.fromisoformat(created), task_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed("分页游标 after 无效，请从第一页重新开始", fields={"after": ["无效"]}) from None


def page_query(user, filters, after=None, limit=PAGE):
    """The select of one page (one row more than `limit`, to know whether another follows)."""
    query = tasks_query(user, filters)
    if after:
        query = query.where(tuple_(OpenTask.sort_due, OpenTask.created_at, OpenTask.id) > decode_cursor(after))
    # the case comes from the join the filters already made (not a second join to cases)
    return query.options(contains_eager(OpenTask.case), selectinload(OpenTask.assignee)).limit(limit + 1)


def page(user, filters, after=None, limit=PAGE):
    """One page of 待办 and the cursor of the next (None on the last page). Keyset paging on
    (sort_due, created_at, id): page 100 costs what page 1 costs."""
    rows = db.session.scalars(page_query(user, filters, after, limit)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)


def count(user, filters=None):
    """How many tasks (capped at COUNT_CAP) the user may act on, for the navigation."""
    query = tasks_query(user, filters or Filters()).order_by(None).with_only_columns(OpenTask.id).limit(COUNT_CAP)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


def filter_choices(user):
    """Processes and units offered in the filter form."""
    processes = db.session.execute(select(ProcessVersion.key, ProcessVersion.name)
                                   .order_by(ProcessVersion.key, ProcessVersion.version.desc())).all()
    seen, process_options = set(), []
    for key, name in processes:
        if key not in seen:
            seen.add(key)
            process_options.append((key, name))
    units = []
    if user.reads_all_units:  # the units of their jurisdiction; a clerk's inbox holds their own unit's tasks only
        units = db.session.execute(select(Unit.code, Unit.name).where(scope.units_clause(user, Unit.office_id))
                                   .order_by(Unit.code)).all()
    return {"processes": process_options, "units": units, "due": DUE_CHOICES, "scopes": SCOPES}


# --- saved filters -----------------------------------------------------------------------

def saved_filters(user):
    return db.session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id)
                              .order_by(SavedFilter.name)).all()


def save_filter(user, name, filters):
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise ValidationFailed("请为筛选条件起一个名称（不超过 40 字）", fields={"name": ["必填，不超过 40 字"]})
    if filters.empty:
        raise ValidationFailed("当前没有筛选条件可保存", fields={"name": ["请先设置筛选条件"]})
    existing = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name))
    if existing is not None:
        existing.query = filters.as_dict()
        db.session.flush()
        return existing
    if db.session.scalar(select(func.count()).select_from(SavedFilter).where(SavedFilter.user_id == user.id)) >= 20:
        raise Conflict("最多保存 20 个筛选条件，请先删除不用的", code="too_many_filters")
    row = SavedFilter(user_id=user.id, name=name, query=filters.as_dict())
    db.session.add(row)
    db.session.flush()
    return row


def delete_filter(user, filter_id):
    row = db.session.get(SavedFilter, filter_id)
    if row is None or row.user_id != user.id:
        raise NotFound("筛选条件不存在")
    db.session.delete(row)
    db.session.flush()


# --- 已办 / 我发起 / 抄送 ------------------------------------------------------------------

def _before(query, column, before):
    if before:
        try:
            query = query.where(column < min(int(before), 2 ** 31))
        except ValueError:
            raise ValidationFailed("分页参数 before 应为整数", fields={"before": ["应为整数"]}) from None
    return query


def done(user, before=None, limit=PAGE):
    """Steps the user did, or that a delegate did on their behalf, newest first."""
    query = (select(CaseStep).where(or_(CaseStep.user_id == user.id, CaseStep.on_behalf_of_id == user.id))
             .options(selectinload(CaseStep.on_behalf_of)).order_by(CaseStep.id.desc()))
    rows = db.session.scalars(_before(query, CaseStep.id, before).limit(limit + 1)).all()
    case_ids = {r.case_id for r in rows}
    by_id = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    items = [(r, by_id[r.case_id]) for r in rows[:limit] if by_id[r.case_id].can_view(user)]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


def started(user, before=None, limit=PAGE):
    query = (cases.visible_cases(user).where(Case.started_by_id == user.id)
             .options(selectinload(Case.open_tasks)).order_by(Case.id.desc()))
    rows = db.session.scalars(_before(query, Case.id, before).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def copies(user, before=None, limit=PAGE):
    query = select(CaseCopy).where(CaseCopy.user_id == user.id).order_by(CaseCopy.id.desc())
    rows = db.session.scalars(_before(query, CaseCopy.id, before).limit(limit + 1)).all()
    return [r for r in rows[:limit] if r.case.can_view(user)], (rows[limit - 1].id if len(rows) > limit else None)


def unread_copies(user):
    return db.session.scalar(select(func.count()).select_from(CaseCopy).where(
        CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)))


def mark_copies_read(user, case_id):
    """Opening a case marks its copy to `user` read."""
    for row in db.session.scalars(select(CaseCopy).where(CaseCopy.user_id == user.id, CaseCopy.case_id == case_id,
                                                         CaseCopy.read_at.is_(None))):
        row.read_at = clock.now()
    db.session.flush()
