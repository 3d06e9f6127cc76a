"""机构编制年审: start the review for every unit at once, read its progress.

The bureau starts it; each case then runs like any other (the unit's clerks confirm in their
inbox, a reviewer accepts or returns). Who "started" a unit's case: the case table records a
starter who is also barred from reviewing the case (separation of duties), so a bulk-started
case is recorded as started by the platform's system account, and the review row and the audit
log name the bureau user who started the review. The section that started it can then accept
the units' confirmations itself.

Bulk start: one transaction; the case numbers are handed out as one block, the engine runs each
case to its first task (≈1 ms), cases, tasks and links are inserted in batches."""
from collections import Counter
from datetime import date

from sqlalchemy import false, func, select, true

from .. import clock
from ..audit.operations import record as audit
from ..cases import sync
from ..cases.effects import Context, on_step
from ..cases.operations import next_numbers
from ..cases.models import Case, CaseStep, OpenTask
from ..engine import adapter
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..inbox.deadlines import system_user
from ..ledger.models import Unit
from ..organisation import jurisdiction
from ..processes import operations as processes
from ..processes.registry import rule, title
from ..workdays import workdays_between
from .models import AnnualReview, ReviewCase

PROCESS_KEY = "annual_review"
STARTERS = ("reviewer", "leader", "admin")
STATUS_LABELS = {"pending": "未确认", "returned": "退回更正中", "confirmed": "已确认待验收", "accepted": "验收通过"}
CHECKLIST = {"unit_checked": "机构信息", "establishment_checked": "核定编制与在编人数",
             "people_checked": "在编人员信息", "posts_checked": "领导职数与中层职数"}


@rule("annual_review_check")
def check_confirmation(ctx, values):
    """Units do not start a review themselves; an item not ticked needs a remark saying why."""
    if ctx.case is None:
        raise Forbidden("机构编制年审由编办统一发起，单位不能自行发起；请在待办中办理本单位的年审任务")
    unticked = [label for key, label in CHECKLIST.items() if not values.get(key)]
    if unticked and not (values.get("remarks") or "").strip():
        raise ValidationFailed(f"「{'」「'.join(unticked)}」未勾选核对无误，请在备注中说明问题及更正情况",
                               fields={"remarks": ["有未勾选的核对项时必须填写备注"]})


@title(PROCESS_KEY)
def _title(values):
    return f"{values.get('year', '')}年度机构编制年审"


def active_units():
    query = select(Unit).order_by(Unit.code)
    if hasattr(Unit, "status"):  # abolished units are not reviewed
        query = query.where(Unit.status == "active")
    return db.session.scalars(query).all()


def _parse_request(year, deadline):
    errors = {}
    try:
        year = int(year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["year"] = ["年度应为 2000–2100 的整数"]
    try:
        deadline = deadline if isinstance(deadline, date) else date.fromisoformat(str(deadline))
        if deadline < clock.today():
            errors["deadline"] = ["确认截止日期不能早于今天"]
    except ValueError:
        errors["deadline"] = ["日期格式应为 YYYY-MM-DD"]
    if errors:
        raise ValidationFailed("年审参数有误", fields=errors)
    return year, deadline


def start_review(user, year, deadline, ip=None):
    """Open the year's review: one case per active unit, each waiting for the unit to confirm
    by `deadline`. Refuses a second review of the same year."""
    if not user.has_role(*STARTERS):
        raise Forbidden("只有业务科室、分管领导和系统管理员可以发起年审")
    year, deadline = _parse_request(year, deadline)
    existing = db.session.scalar(select(AnnualReview).where(AnnualReview.year == year))
    if existing is not None:
        if existing.started_by.office_id == user.office_id:
            raise Conflict(f"{year} 年度年审已于 {existing.started_at:%Y-%m-%d} 由{existing.started_by.display_name}发起，"
                           "不能重复发起", code="review_exists")
        # AnnualReview.year is unique: one review a year for the whole installation (schema)
        raise Conflict(f"{year} 年度年审已由其他编办发起；同一年度在本系统中只能发起一次年审，请联系系统管理员",
                       code="review_exists")
    version = processes.latest(PROCESS_KEY)
    parsed = processes.parsed_version(version)
    units = [u for u in active_units() if u.office_id == user.office_id]  # the starter's office's units
    if not units:
        raise ValidationFailed("没有在用的单位，无需年审")
    starter = system_user()
    review = AnnualReview(year=year, deadline=deadline, version_id=version.id, started_by_id=user.id,
                          units=len(units), started_at=clock.now())
    db.session.add(review)
    db.session.flush()
    numbers = next_numbers(parsed.start_properties.get("number_prefix", "NS"), len(units))
    values = {"year": year, "deadline": deadline.isoformat()}
    cases = [Case(number=number, process_key=version.key, version_id=version.id, unit_id=unit.id,
                  office_id=unit.office_id, started_by_id=starter.id, state="running", title=_title(values),
                  data=dict(values), workflow_json="", created_at=clock.now(), updated_at=clock.now())
             for number, unit in zip(numbers, units)]
    db.session.add_all(cases)
    db.session.flush()
    synced = []
    for case, unit in zip(cases, units):
        case.unit = unit
        run = adapter.Run.start(parsed, on_step(Context(starter, case)))
        case.workflow_json = run.dump()
        # the unit's step is due on the review's deadline, not in the diagram's working days
        synced.append(sync.changes(case, run, existing=(), due_date=deadline))
        db.session.add(ReviewCase(review_id=review.id, unit_id=unit.id, case_id=case.id))
    sync.write(synced)  # every unit's open task in one insert
    db.session.flush()
    for changes in synced:  # the deadline's reminder and escalation; the unit's clerks told
        sync.announce(changes, user)
    audit(user, "review.start", f"review:{year}", ip=ip, year=year, deadline=deadline.isoformat(), units=len(units),
          version=version.version)
    db.session.flush()
    return review




def _concerns(user):
    """A WHERE clause on AnnualReview: the reviews with a unit in the reader's jurisdiction (a
    clerk: their unit); every review for the system (user None)."""
    if user is None:
        return true()
    return select(ReviewCase.id).where(ReviewCase.review_id == AnnualReview.id,
                                       _lines_clause(user)).exists()


def _lines_clause(user):
    """A WHERE clause on ReviewCase: the lines the reader sees (organisation.jurisdiction; a clerk
    their own unit's only)."""
    if user.reads_all_units:
        return jurisdiction.of(user).clause(ReviewCase.unit_id)
    return ReviewCase.unit_id == (user.unit_id or -1) if user.has_role("unit_clerk") else false()


def get_review(year=None, user=None):
    query = select(AnnualReview).where(_concerns(user))
    query = query.where(AnnualReview.year == year) if year is not None else query.order_by(AnnualReview.year.desc())
    review = db.session.scalar(query.limit(1))
    if review is None:
        raise NotFound(f"{year} 年度尚未发起年审" if year else "尚未发起过年审")
    return review


def all_reviews(user=None):
    return db.session.scalars(select(AnnualReview).where(_concerns(user)).order_by(AnnualReview.year.desc())).all()


def progress(review, user=None):
    """Per unit: status, case, confirmation time and overdue working days; and the counts. A
    bureau reader sees the units of their office's jurisdiction (a city its counties'), a unit
    clerk only their own unit's line; no user (the system) every line."""
    query = (select(ReviewCase.unit_id, Unit.code, Unit.name, Case.id, Case.number, Case.state)
             .join(Unit, Unit.id == ReviewCase.unit_id).join(Case, Case.id == ReviewCase.case_id)
             .where(ReviewCase.review_id == review.id).order_by(Unit.code))
    lines_clause = _lines_clause(user) if user is not None else true()
    rows = db.session.execute(query.where(lines_clause)).all()
    case_ids = (select(ReviewCase.case_id).where(ReviewCase.review_id == review.id, lines_clause)
                .scalar_subquery())
    open_steps = dict(db.session.execute(select(OpenTask.case_id, OpenTask.bpmn_id)
                                         .where(OpenTask.case_id.in_(case_ids))).all())
    returned = set(db.session.scalars(select(CaseStep.case_id).where(CaseStep.case_id.in_(case_ids),
                                                                    CaseStep.decision == "return")))
    confirmed_at = dict(db.session.execute(select(CaseStep.case_id, func.max(CaseStep.at)).where(
        CaseStep.case_id.in_(case_ids), CaseStep.role == "unit_clerk").group_by(CaseStep.case_id)).all())
    today = clock.today()
    late_by = workdays_between(review.deadline, today) if today > review.deadline else 0
    lines = []
    for unit_id, code, name, case_id, number, state in rows:
        if state == "completed":
            status = "accepted"
        elif open_steps.get(case_id) == "Task_accept":
            status = "confirmed"
        else:
            status = "returned" if case_id in returned else "pending"
        overdue = late_by if status in ("pending", "returned") and late_by >= 1 else 0
        lines.append({"unit_code": code, "unit_name": name, "case_id": case_id, "number": number, "status": status,
                      "status_label": STATUS_LABELS[status], "confirmed_at": confirmed_at.get(case_id),
                      "overdue_workdays": overdue})
    counts = Counter(line["status"] for line in lines)
    return {"year": review.year, "deadline": review.deadline, "units": len(lines),
            "counts": {key: counts.get(key, 0) for key in STATUS_LABELS},
            "overdue": [line for line in lines if line["overdue_workdays"]], "lines": lines}
