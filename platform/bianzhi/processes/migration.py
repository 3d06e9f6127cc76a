"""Moving running cases from an old process version to the newest one, in bulk.

A case can move when every step it stands at exists in the new version as the same kind of
element, every step it has passed still exists (the engine maps a case's history by element
id), and a trial move on a copy loads back without running any automatic step. The dry run
lists each running case with why it can or cannot move; the move takes all movable cases in
one transaction (row-locked, versioned: a case completed meanwhile makes the whole move fail
with 409), so nothing is half-moved. Each moved case and the move itself are audited.
"""
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from ..audit.operations import record as audit
from ..cases.effects import Context, on_step
from ..cases.models import Case
from ..cases.sync import sync_open_tasks
from ..engine import adapter
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from . import operations as processes
from .drafts import get_version, newest


@dataclass
class Candidate:
    case: Case
    reasons: list = field(default_factory=list)
    current: list = field(default_factory=list)  # names of the steps it stands at

    @property
    def movable(self):
        return not self.reasons


def running_counts(key):
    """{version id: number of unfinished cases} for a process."""
    rows = db.session.execute(select(Case.version_id, func.count()).where(
        Case.process_key == key, Case.finished_at.is_(None)).group_by(Case.version_id)).all()
    return dict(rows)


def _versions(user, key, from_number):
    if not user.has_role("admin"):
        raise Forbidden("只有系统管理员可以迁移案件")
    source = get_version(key, from_number)
    target = newest(key)
    if source.id == target.id:
        raise ValidationFailed(f"第 {from_number} 版已是最新版本，请选择较早的版本",
                               fields={"from": ["请选择较早的版本"]})
    return source, target


def _running(source, lock=False):
    query = select(Case).where(Case.version_id == source.id, Case.finished_at.is_(None)).order_by(Case.id)
    if lock:
        query = query.with_for_update(of=Case).execution_options(populate_existing=True)
    return db.session.scalars(query).all()


def _assess(case, old, new):
    try:
        run = adapter.Run.load(old, case.workflow_json)
    except Exception as exc:  # noqa: BLE001 - a case the engine cannot load stays where it is
        return Candidate(case, [f"无法读取案件的流程状态（{type(exc).__name__}）"]), None
    current = [t.element.name for t in run.human_tasks()]
    return Candidate(case, run.migration_problems(new), current), run


def plan(user, key, from_number):
    """The dry run: (source version, target version, [Candidate]) for every running case of
    the source version. Changes nothing."""
    source, target = _versions(user, key, from_number)
    old, new = processes.parsed_version(source), processes.parsed_version(target)
    return source, target, [_assess(case, old, new)[0] for case in _running(source)]


def move(user, key, from_number, ip=None):
    """Move every movable running case of version `from_number` to the newest version, in
    the caller's transaction. Returns (target version, moved cases, candidates that stay)."""
    source, target = _versions(user, key, from_number)
    old, new = processes.parsed_version(source), processes.parsed_version(target)
    moved, stayed = [], []
    for case in _running(source, lock=True):
        candidate, run = _assess(case, old, new)
        if not candidate.movable:
            stayed.append(candidate)
            continue
        try:
            run.migrate(new, on_step(Context(user, case)))
        except adapter.EngineError as exc:
            raise Conflict(f"案件 {case.number} 迁移失败：{exc.message}；未迁移任何案件", code="migration_failed") from None
        case.workflow_json = run.dump()
        case.version_id = target.id
        case.version = target
        # the same task ids: a kept row takes the new version's step name, lane, role and form,
        # its claim, due date and creation time stay as they were
        sync_open_tasks(case, run, user, refresh=True)
        audit(user, "case.migrate", f"case:{case.id}", ip=ip, number=case.number, process=key,
              from_version=source.version, to_version=target.version)
        moved.append(case)
    audit(user, "process.migrate", f"process:{key}", ip=ip, from_version=source.version,
          to_version=target.version, moved=[c.number for c in moved],
          stayed={c.case.number: c.reasons for c in stayed})
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("迁移期间有案件被他人办理，未迁移任何案件，请重新试运行", code="conflict") from None
    return target, moved, stayed
