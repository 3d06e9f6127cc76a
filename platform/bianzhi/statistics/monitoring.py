"""审批监测: per process, step, unit and month — cases started and finished, throughput time in
working days (median and p90), overdue rate, return rate and first-pass rate, with the cases
behind every figure.

Definitions (periods are Beijing dates, both ends included):
- started 受理: cases created in the period;
- finished 办结: cases decided in the period — finished as approved, completed or rejected
  (withdrawn cases are counted apart as 撤回 and are in no rate);
- throughput 办理时长: working days (Chinese holidays count, bianzhi.workdays) from the day a
  finished case was started to the day it finished; median and p90 (nearest rank: the smallest
  duration that at least 90 % of the finished cases do not exceed);
- return rate 退回率: finished cases sent back to the applicant at least once (a review step
  decided 退回补正) / finished cases;
- first-pass rate 一次性通过率: finished cases approved without any return / finished cases;
- overdue rate 超期率: steps with a limit opened in the period that were done after their due
  date, or are still open past it / steps with a limit opened in the period.

Counting is one query for the cases and one for the steps of the period (bounded by the
filters); the grouping, the working days and the percentiles are done in Python over those rows.
Step timings come from `StepLog`, written as open tasks appear and disappear."""
import statistics as stats
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache
from math import ceil

from sqlalchemy import or_, select

from .. import clock
from ..cases.models import Case, CaseStep
from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from ..ledger.models import Unit
from ..ledger.operations import unit_by_code
from ..organisation import jurisdiction
from ..organisation.jurisdiction import Jurisdiction
from ..processes.models import ProcessVersion
from ..workdays import workdays_between as _workdays_between
from .models import StepLog
from .operations import end_of_day, period

DECIDED = ("approved", "completed", "rejected")
APPROVED = ("approved", "completed")
MEASURES = {"started": "受理", "finished": "办结", "withdrawn": "撤回", "returned": "曾被退回",
            "first_pass": "一次性通过", "overdue": "有超期环节"}
DRILL_LIMIT = 500


@lru_cache(maxsize=65536)
def workdays_between(start, end):
    """Working days from `start` to `end`; many cases share their start and end days."""
    return _workdays_between(start, end)
DEFINITIONS = {
    "started": "统计期间内受理（发起）的案件数",
    "finished": "统计期间内办结（流程结束）的案件数：核准、办结或不予通过（撤回的另计，不计入各项比率）；"
                "空编使用、临聘人员在单位登记、业务科室确认后才办结",
    "median_workdays": "办结案件从受理日到办结日的工作日数（法定节假日不计）的中位数",
    "p90_workdays": "办结案件办理时长的第 90 百分位（最近秩法：至少 90% 的案件不超过此值）",
    "overdue_rate": "统计期间内到达的有办理时限的环节中，逾期办理或至今逾期未办的比例",
    "return_rate": "办结案件中曾被退回补正的比例",
    "first_pass_rate": "办结案件中未经退回即核准的比例（一次性通过率）",
}


# -- the step log, kept as open tasks come and go ----------------------------------------------

def log_steps(case, user, opened, closed, **_):
    """Listener of cases.signals.tasks_synced (connected in bianzhi.registry)."""
    now = clock.now()
    log = StepLog.__table__  # Core statements: no ORM unit of work for a row nobody reads back here
    if opened:
        db.session.execute(log.insert(), [
            {"task_id": task.id, "case_id": case.id, "process_key": case.process_key, "unit_id": case.unit_id,
             "bpmn_id": task.bpmn_id, "name": task.name, "role": task.role,
             "opened_at": task.created_at, "due_date": task.due_date, "closed_at": None}
            for task in opened])
    if closed:
        db.session.execute(log.update().where(log.c.task_id.in_(closed), log.c.closed_at.is_(None))
                           .values(closed_at=now))


# -- filters ------------------------------------------------------------------------------------

@dataclass
class Filters:
    start: date
    end: date
    process: str | None = None
    unit: Unit | None = None
    step: str | None = None
    month: str | None = None
    scope: Jurisdiction = jurisdiction.EVERYTHING  # whose cases (case_scope)
    office: str | None = None  # an office an upper office chose (?office=), none for the reader's own

    def args(self, **extra):
        """The query arguments that reproduce these filters (for links and exports)."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.office:
            out["office"] = self.office
        if self.process:
            out["process"] = self.process
        if self.unit is not None:
            out["unit"] = self.unit.code
        if self.step:
            out["step"] = self.step
        out.update({k: v for k, v in extra.items() if v is not None})
        return out


def case_scope(user, office_code=None):
    """Whose cases the figures count: a bureau reader's jurisdiction (the cases started by its
    units; an upper office may narrow it to one office below: `office_code`), a clerk their own
    unit's, nobody else any (organisation.jurisdiction)."""
    if user is not None and not user.reads_all_units:
        if office_code:
            raise Forbidden("只有编办人员可以按编办查看；单位经办人只能查看本单位的审批监测")
        if user.has_role("unit_clerk") and user.unit_id:
            return Jurisdiction(units=frozenset({user.unit_id}), label=user.unit.name)
        return jurisdiction.NOTHING
    return jurisdiction.of(user, office_code)


def process_names():
    names = {}
    for key, name in db.session.execute(select(ProcessVersion.key, ProcessVersion.name)
                                        .order_by(ProcessVersion.key, ProcessVersion.version)):
        names[key] = name  # the newest version's name wins
    return names


def step_choices(process):
    """(element id, name) of the steps of `process` that have ever opened, for the step filter."""
    if not process:
        return []
    rows = db.session.execute(select(StepLog.bpmn_id, StepLog.name).where(StepLog.process_key == process)
                              .group_by(StepLog.bpmn_id, StepLog.name).order_by(StepLog.bpmn_id))
    return list(dict(rows.all()).items())


def parse_filters(user, args):
    """Filters from query arguments (from, to, process, unit code, step, month YYYY-MM)."""
    start, end = period(args.get("from"), args.get("to"))
    process = args.get("process") or None
    if process is not None and process not in process_names():
        raise ValidationFailed(f"没有流程「{process}」", fields={"process": ["流程不存在"]})
    scope = case_scope(user, args.get("office"))
    office = scope.office.code if scope.office is not None and scope.office.id != user.office_id else None
    unit = None
    if args.get("unit"):
        unit = unit_by_code(args["unit"])
        if not scope.covers(unit):
            raise Forbidden("只能查看本编办辖区的审批监测" if scope.by_office else "只能查看本单位的审批监测")
    month = args.get("month") or None
    if month is not None:
        try:
            first = date.fromisoformat(month + "-01")
        except ValueError:
            raise ValidationFailed(f"月份格式应为 YYYY-MM：{month}", fields={"month": ["月份格式应为 YYYY-MM"]}) from None
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        start, end = max(start, first), min(end, last)
        if start > end:
            raise ValidationFailed(f"{month} 不在统计期间内", fields={"month": ["月份不在统计期间内"]})
    return Filters(start, end, process, unit, args.get("step") or None, month, scope, office)


# -- rows ---------------------------------------------------------------------------------------

@dataclass
class CaseRow:
    id: int
    number: str
    title: str
    process_key: str
    unit_id: int
    state: str
    started: date
    finished: date | None
    returned: bool

    @property
    def decided(self):
        return self.finished is not None and self.state in DECIDED

    @cached_property
    def workdays(self):
        return workdays_between(self.started, self.finished)


@dataclass
class StepRow:
    case_id: int
    process_key: str
    unit_id: int
    bpmn_id: str
    name: str
    opened: date
    closed: date | None
    due: date | None
    decision: str | None

    def overdue(self, today):
        if self.due is None:
            return False
        return (self.closed or today) > self.due  # done late, or still open past the due date

    @cached_property
    def workdays(self):
        return workdays_between(self.opened, self.closed)


def load_rows(user, filters):
    """(cases, steps) of the period under the filters, their scope the user's (parse_filters)."""
    lo, hi = clock.at_local(filters.start), end_of_day(filters.end)
    returned = select(CaseStep.id).where(CaseStep.case_id == Case.id, CaseStep.decision == "return").exists()
    query = (select(Case.id, Case.number, Case.title, Case.process_key, Case.unit_id, Case.state, Case.created_at,
                    Case.finished_at, returned.label("returned"))
             .where(or_(Case.created_at.between(lo, hi), Case.finished_at.between(lo, hi))).order_by(Case.id))
    query = query.where(filters.scope.case_clause(Case))
    if filters.process:
        query = query.where(Case.process_key == filters.process)
    if filters.unit is not None:
        query = query.where(Case.unit_id == filters.unit.id)
    cases = [CaseRow(r.id, r.number, r.title, r.process_key, r.unit_id, r.state, clock.local_date(r.created_at),
                     clock.local_date(r.finished_at) if r.finished_at else None, bool(r.returned))
             for r in db.session.execute(query)]
    steps_query = (select(StepLog.case_id, StepLog.process_key, StepLog.unit_id, StepLog.bpmn_id, StepLog.name,
                          StepLog.opened_at, StepLog.closed_at, StepLog.due_date, CaseStep.decision)
                   .outerjoin(CaseStep, CaseStep.task_id == StepLog.task_id)
                   .where(StepLog.opened_at.between(lo, hi)).order_by(StepLog.id))
    if not filters.scope.everything:  # the steps of the jurisdiction's cases
        steps_query = steps_query.join(Case, Case.id == StepLog.case_id).where(filters.scope.case_clause(Case))
    if filters.process:
        steps_query = steps_query.where(StepLog.process_key == filters.process)
    if filters.unit is not None:
        steps_query = steps_query.where(StepLog.unit_id == filters.unit.id)
    if filters.step:
        steps_query = steps_query.where(StepLog.bpmn_id == filters.step)
    steps = [StepRow(r.case_id, r.process_key, r.unit_id, r.bpmn_id, r.name, clock.local_date(r.opened_at),
                     clock.local_date(r.closed_at) if r.closed_at else None, r.due_date, r.decision)
             for r in db.session.execute(steps_query)]
    return cases, steps


# -- figures ------------------------------------------------------------------------------------

def median(values):
    return stats.median(values) if values else None


def p90(values):
    """Nearest rank: the smallest value at least 90 % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[ceil(0.9 * len(ordered)) - 1]


def rate(part, whole):
    return round(part / whole, 4) if whole else None


def _within(day, start, end):
    return day is not None and start <= day <= end


def select_cases(cases, steps, start, end, measure, today):
    """The cases behind one figure."""
    if measure == "started":
        return [c for c in cases if _within(c.started, start, end)]
    if measure == "overdue":
        ids = {s.case_id for s in steps if _within(s.opened, start, end) and s.overdue(today)}
        return [c for c in cases if c.id in ids]
    decided = [c for c in cases if c.decided and _within(c.finished, start, end)]
    if measure == "finished":
        return decided
    if measure == "returned":
        return [c for c in decided if c.returned]
    if measure == "first_pass":
        return [c for c in decided if c.state in APPROVED and not c.returned]
    if measure == "withdrawn":
        return [c for c in cases if c.state == "withdrawn" and _within(c.finished, start, end)]
    raise ValidationFailed(f"没有指标「{measure}」", fields={"measure": ["指标不存在"]})


def summarize(cases, steps, start, end, today):
    finished = select_cases(cases, steps, start, end, "finished", today)
    durations = [c.workdays for c in finished]
    limited = [s for s in steps if _within(s.opened, start, end) and s.due is not None]
    overdue = [s for s in limited if s.overdue(today)]
    returned = sum(c.returned for c in finished)
    first_pass = len(select_cases(cases, steps, start, end, "first_pass", today))
    return {"started": len(select_cases(cases, steps, start, end, "started", today)),
            "finished": len(finished),
            "withdrawn": len(select_cases(cases, steps, start, end, "withdrawn", today)),
            "median_workdays": median(durations), "p90_workdays": p90(durations),
            "steps_with_limit": len(limited), "overdue": len(overdue), "overdue_rate": rate(len(overdue), len(limited)),
            "returned": returned, "return_rate": rate(returned, len(finished)),
            "first_pass": first_pass, "first_pass_rate": rate(first_pass, len(finished))}


def _months(start, end):
    months, current = [], start.replace(day=1)
    while current <= end:
        following = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        months.append((current.strftime("%Y-%m"), max(start, current), min(end, following - timedelta(days=1))))
        current = following
    return months


def step_figures(steps, today):
    """Per step (process and element): opened, done, median and p90 working days from opening to
    done, overdue rate, and the share of its decisions that were returns."""
    groups = {}
    for s in steps:
        groups.setdefault((s.process_key, s.bpmn_id), []).append(s)
    out = []
    # per process, steps in the order cases first reached them (the log is read in id order)
    for (process, bpmn_id), rows in sorted(groups.items(), key=lambda kv: kv[0][0]):
        done = [s for s in rows if s.closed is not None]
        limited = [s for s in rows if s.due is not None]
        overdue = [s for s in limited if s.overdue(today)]
        decided = [s for s in done if s.decision in ("approve", "return", "reject")]
        returned = [s for s in decided if s.decision == "return"]
        durations = [s.workdays for s in done]
        out.append({"process": process, "step": bpmn_id, "name": rows[-1].name, "opened": len(rows),
                    "closed": len(done), "median_workdays": median(durations), "p90_workdays": p90(durations),
                    "steps_with_limit": len(limited), "overdue": len(overdue),
                    "overdue_rate": rate(len(overdue), len(limited)), "decided": len(decided),
                    "returned": len(returned), "return_rate": rate(len(returned), len(decided))})
    return out


def _group(rows, attr):
    groups = {}
    for row in rows:
        groups.setdefault(getattr(row, attr), []).append(row)
    return groups


def report(user, filters):
    """Every figure for the filters: the total, and per process, step, unit and month."""
    today = clock.today()
    cases, steps = load_rows(user, filters)
    names = process_names()
    unit_ids = sorted({c.unit_id for c in cases} | {s.unit_id for s in steps})
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids or [-1])))}
    by_process = []
    case_groups, step_groups = _group(cases, "process_key"), _group(steps, "process_key")
    for key in sorted(set(case_groups) | set(step_groups)):
        row = summarize(case_groups.get(key, []), step_groups.get(key, []), filters.start, filters.end, today)
        by_process.append({"process": key, "name": names.get(key, key), **row})
    by_unit = []
    case_groups, step_groups = _group(cases, "unit_id"), _group(steps, "unit_id")
    for unit_id in sorted(unit_ids, key=lambda i: units[i].code):
        row = summarize(case_groups.get(unit_id, []), step_groups.get(unit_id, []), filters.start, filters.end, today)
        by_unit.append({"unit": units[unit_id].code, "name": units[unit_id].name, **row})
    by_month = [{"month": month, **summarize(cases, steps, lo, hi, today)}
                for month, lo, hi in _months(filters.start, filters.end)]
    by_step = [{**row, "process_name": names.get(row["process"], row["process"])} for row in step_figures(steps, today)]
    return {"from": filters.start.isoformat(), "to": filters.end.isoformat(), "as_of": today.isoformat(),
            "scope": filters.scope.label,
            "filters": {"process": filters.process, "unit": filters.unit.code if filters.unit else None,
                        "step": filters.step, "month": filters.month},
            "total": summarize(cases, steps, filters.start, filters.end, today),
            "by_process": by_process, "by_step": by_step, "by_unit": by_unit, "by_month": by_month}


def drill_down(user, filters, measure):
    """The cases behind a figure (newest first, at most DRILL_LIMIT) and how many there are."""
    if measure not in MEASURES:
        raise ValidationFailed(f"没有指标「{measure}」", fields={"measure": ["指标不存在"]})
    cases, steps = load_rows(user, filters)
    chosen = select_cases(cases, steps, filters.start, filters.end, measure, clock.today())
    chosen.sort(key=lambda c: c.id, reverse=True)
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_({c.unit_id for c in chosen} or {-1})))}
    return chosen[:DRILL_LIMIT], len(chosen), units
