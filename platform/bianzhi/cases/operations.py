"""Cases: start, complete a task, attach files, find what a user may see.

Each public function changes the session and flushes; the caller commits once. The workflow
state, open-task rows, ledger changes and audit entry therefore land together or not at all.
"""
import hashlib
import io
import zipfile
from pathlib import PurePath

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import lazyload, undefer
from sqlalchemy.orm.exc import StaleDataError

from .. import clock
from ..accounts.models import role_for_lane
from ..audit.operations import record as audit
from ..engine import adapter
from ..organisation import scope
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..processes import forms as formlib
from ..processes import operations as processes
from ..processes.registry import TITLES
from ..util import local
from .effects import Context, check_rule, on_step, set_state
from .models import Attachment, Case, CaseSequence, CaseStep, OpenTask
from .sync import sync_open_tasks

MAGIC = {".pdf": [b"%PDF-"], ".png": [b"\x89PNG\r\n\x1a\n"], ".jpg": [b"\xff\xd8\xff"],
         ".jpeg": [b"\xff\xd8\xff"], ".docx": [b"PK\x03\x04"], ".xlsx": [b"PK\x03\x04"]}


def _form_errors(err):
    messages = err.messages if isinstance(err.messages, dict) else {"_": err.messages}
    return messages


def _validate_form(version, form_key, data):
    form = processes.version_forms(version).get(form_key)
    if form is None:
        raise ValidationFailed(f"表单 {form_key} 不存在")
    try:
        return formlib.load(form, data)
    except ValidationError as err:
        raise ValidationFailed("表单填写有误，请按提示修改", fields=_form_errors(err)) from None


def next_numbers(prefix, count):
    """`count` case numbers (KBSY-2026-0001 …) as one block of a per-prefix, per-year counter
    row, incremented atomically."""
    year = clock.today().year
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(CaseSequence).values(prefix=prefix, year=year, last=0)
                       .on_conflict_do_nothing(index_elements=["prefix", "year"]))
    last = db.session.execute(update(CaseSequence).where(CaseSequence.prefix == prefix, CaseSequence.year == year)
                              .values(last=CaseSequence.last + count).returning(CaseSequence.last)).scalar_one()
    return [f"{prefix}-{year}-{n:04d}" for n in range(last - count + 1, last + 1)]


def next_number(prefix):
    return next_numbers(prefix, 1)[0]


def _number_prefix(parsed):
    if parsed.start_properties.get("number_prefix"):
        return parsed.start_properties["number_prefix"]
    return "".join(ch for ch in parsed.process_id.upper() if ch.isalnum())[:8] or "CASE"


def _decision_of(values, role):
    if role == "unit_clerk":
        return "submit"
    return values.get("decision") or "submit"


def _title(version, values):
    if version.key in TITLES:
        return TITLES[version.key](values)[:200]
    lines = values.get("lines")
    if isinstance(lines, list) and lines and all(isinstance(x, dict) and "count" in x for x in lines):
        totals = {}  # plan lines: 年度用编计划（2027年度 事业编制 3 名、行政编制 1 名）
        for line in lines:
            totals[line.get("category", "")] = totals.get(line.get("category", ""), 0) + int(line["count"])
        year = f"{values['year']}年度 " if values.get("year") else ""
        return f"{version.name}（{year}{'、'.join(f'{c} {n} 名' for c, n in totals.items())}）"[:200]
    parts = [str(values.get("category") or ""), f"{values['count']} 名" if values.get("count") else ""]
    detail = " ".join(p for p in parts if p)
    return f"{version.name}（{detail}）" if detail else version.name


def start_case(user, process_key, data, files=(), ip=None):
    if not user.has_role("unit_clerk") or user.unit is None:
        raise Forbidden("只有单位经办人可以发起申请")
    if user.unit.status != "active":
        raise Forbidden(f"{user.unit.name}已撤销，不能再发起申请")
    version = processes.latest(process_key)
    parsed = processes.parsed_version(version)
    first = parsed.first_user_task()
    if role_for_lane(first.lane) != "unit_clerk":
        raise Forbidden(f"「{version.name}」不由单位发起")
    if parsed.start_properties.get("started_by") == "bureau":
        raise Forbidden(f"「{version.name}」由编办统一发起，单位不能自行发起")
    values = _validate_form(version, first.form_key, data)
    check_rule(first.properties.get("rule"), Context(user, None), values)
    _check_files(files)
    case = Case(number=next_number(_number_prefix(parsed)), process_key=version.key, version_id=version.id,
                unit_id=user.unit_id, office_id=user.unit.office_id, started_by_id=user.id, state="running", title=_title(version, values),
                data=values, workflow_json="")
    case.unit = user.unit
    db.session.add(case)
    db.session.flush()
    ctx = Context(user, case)
    run = adapter.Run.start(parsed, on_step(ctx))
    task = next((t for t in run.human_tasks() if t.element.id == first.id), None)
    db.session.add(CaseStep(case_id=case.id, task_id=task.id, bpmn_id=first.id, name=first.name,
                            role="unit_clerk", user_id=user.id, decision="submit", opinion=None, data=values))
    _run_engine(run.complete, task.id, values, on_step(ctx))
    case.workflow_json = run.dump()
    sync_open_tasks(case, run, user, existing=())  # a new case has none yet
    _store_files(user, case, files)
    audit(user, "case.start", f"case:{case.id}", ip=ip, number=case.number, process=version.key,
          version=version.version)
    _flush(case)
    return case


def _flush(case):
    """Write the step; a stale case revision means someone else completed it first."""
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("该案件刚被他人办理，请刷新后重试", code="already_done") from None
    db.session.expire(case, ["steps"])  # view-only list, reread when shown (open_tasks: set by the sync)


def _run_engine(fn, *args):
    try:
        fn(*args)
    except adapter.EngineError as exc:
        raise Conflict(exc.message, code="engine_error") from None


def visible_cases(user):
    """A select of the cases `user` may see (list queries and single lookups alike)."""
    return select(Case).where(scope.cases_clause(user, Case))


def get_case(user, case_id, lock=False):
    query = visible_cases(user).where(Case.id == case_id)
    if lock:
        query = query.with_for_update(of=Case).execution_options(populate_existing=True)
    case = db.session.scalar(query)
    if case is None:
        raise NotFound("案件不存在或无权查看")
    return case


def inbox(user, claimed_by_others=False):
    """A select of the open tasks `user` may act on, most urgent first (OpenTask.actionable,
    beside the predicates it mirrors)."""
    return OpenTask.actionable(user, claimed_by_others)


def _done_or_missing(user, task_id):
    """For a task id that is not open: 409 with who did it, or 404."""
    done = db.session.scalar(select(CaseStep).where(CaseStep.task_id == str(task_id)))
    if done is not None:
        get_case(user, done.case_id)  # 404 unless the user may see the case
        raise Conflict(f"该任务已由{done.user.display_name}于 {local(done.at)} 办理", code="already_done")
    raise NotFound("任务不存在或无权查看")


def _check_task(user, task, case):
    if not case.can_view(user):
        raise NotFound("案件不存在或无权查看")
    if not task.can_complete(user):
        raise Forbidden(task.why_not(user))


def require_task_visible(user, task_id):
    """404 unless `task_id` is a task (open or done) of a case `user` may see."""
    task = db.session.get(OpenTask, str(task_id))  # its case comes along (joined)
    if task is not None:
        if not task.case.can_view(user):  # the same rule as visible_cases, on the loaded case
            raise NotFound("案件不存在或无权查看")
        return
    case_id = db.session.scalar(select(CaseStep.case_id).where(CaseStep.task_id == str(task_id)).limit(1))
    if case_id is None:
        raise NotFound("任务不存在或无权查看")
    get_case(user, case_id)


def get_task(user, task_id):
    """The open task, checked for visibility (404) and for the right to act (403);
    a task already done gives 409 with who did it."""
    task = db.session.get(OpenTask, str(task_id))
    if task is None:
        _done_or_missing(user, task_id)
    _check_task(user, task, task.case)
    return task


def complete_task(user, task_id, data, files=(), ip=None):
    # the case's open tasks (this one among them) and the case with its workflow in one query,
    # the case row locked against a second completion
    of_case = select(OpenTask.case_id).where(OpenTask.id == str(task_id)).scalar_subquery()
    rows = db.session.execute(select(OpenTask, Case).join(Case, OpenTask.case_id == Case.id)
                              .where(OpenTask.case_id == of_case).with_for_update(of=Case)
                              .options(undefer(Case.workflow_json))
                              .execution_options(populate_existing=True)).all()
    task = next((t for t, _c in rows if t.id == str(task_id)), None)
    if task is None:
        _done_or_missing(user, task_id)
    case = task.case
    if not case.can_view(user):
        raise NotFound("案件不存在或无权查看")
    principal = task.acting_for(user)  # once: it may read the case's steps (separation of duties)
    if principal is None:
        raise Forbidden(task.why_not(user))
    open_rows = [t for t, _c in rows]
    # PostgreSQL: after waiting for the lock, the case's open tasks afresh, since a concurrent
    # completion may have committed meanwhile (the join above saw the task rows as they were
    # before the wait). SQLite needs none: BEGIN IMMEDIATE took the database's write lock before
    # the first read.
    if db.session.get_bind().dialect.name != "sqlite":
        open_rows = db.session.scalars(select(OpenTask).where(OpenTask.case_id == case.id)
                                       .options(lazyload(OpenTask.case))  # the locked case stays as read
                                       .execution_options(populate_existing=True)).all()
        if all(t.id != str(task_id) for t in open_rows):
            db.session.expunge(task)
            _done_or_missing(user, task_id)
    version = case.version
    values = _validate_form(version, task.form_key, data)
    parsed = processes.parsed_version(version)
    element = parsed.elements[task.bpmn_id]
    ctx = Context(user, case)
    check_rule(element.properties.get("rule"), ctx, values)
    _check_files(files, case)  # the case row is locked above
    decision = _decision_of(values, task.role)
    # a Core insert: the step is never changed, and the answer reads the history as columns
    db.session.connection().execute(CaseStep.__table__.insert(), {
        "case_id": case.id, "task_id": task.id, "bpmn_id": task.bpmn_id, "name": task.name, "role": task.role,
        "user_id": user.id, "decision": decision, "on_behalf_of_id": principal.id if principal.id != user.id else None,
        "opinion": values.get("opinion"), "data": values, "at": clock.now()})
    run = adapter.Run.load(parsed, case.workflow_json)
    _run_engine(run.complete, task.id, values, on_step(ctx))
    if element.id == parsed.first_user_task().id:
        case.data = values
        case.title = _title(version, values)
    _save_run(case, run, user, open_rows)
    _store_files(user, case, files)
    audit(user, "task.complete", f"case:{case.id}", ip=ip, number=case.number, step=task.name,
          decision=decision, **({"on_behalf_of": principal.username} if principal.id != user.id else {}))
    _flush(case)
    return case


def _save_run(case, run, user, open_rows=None):
    """After the engine moved: close a case whose workflow ended, store the workflow and make
    the open-task rows match it (`open_rows`: the case's open tasks, if just read)."""
    if run.completed and case.finished_at is None:
        if case.state == "running":
            case.state = "completed"
        case.finished_at = clock.now()
    case.workflow_json = run.dump()
    case.updated_at = clock.now()
    sync_open_tasks(case, run, user, open_rows)


def fire_timer(system_user, case_id, timer_id):
    """A timer event of the case's diagram is due (the worker calls this): the engine passes
    it (a boundary timer interrupts its task), and the case moves on as if a step had been done
    by `system_user`. Returns the case, or None when the timer no longer waits (its task was
    done meanwhile, or the case ended)."""
    case = db.session.scalar(select(Case).where(Case.id == case_id).with_for_update(of=Case)
                             .execution_options(populate_existing=True))
    if case is None or case.finished_at is not None:
        return None
    parsed = processes.parsed_version(case.version)
    run = adapter.Run.load(parsed, case.workflow_json)
    timer = next((t for t in run.waiting_timers() if t.id == str(timer_id)), None)
    if timer is None:
        return None
    ctx = Context(system_user, case)
    db.session.add(CaseStep(case_id=case.id, task_id=timer.id, bpmn_id=timer.element.id, name=timer.element.name,
                            role="system", user_id=system_user.id, decision="timeout", opinion=None, data={}))
    db.session.flush()
    _run_engine(run.fire_timer, timer.id, on_step(ctx))
    _save_run(case, run, system_user)
    audit(system_user, "timer.fire", f"case:{case.id}", number=case.number, timer=timer.element.name,
          state=case.state)
    _flush(case)
    return case


def _size(n):
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def can_withdraw(user, case):
    """The unit may withdraw its own running case until a bureau step has acted on it."""
    return (user.has_role("unit_clerk") and user.unit_id == case.unit_id and case.state == "running"
            and all(step.role == "unit_clerk" for step in case.steps))


def withdraw_case(user, case_id, ip=None):
    case = get_case(user, case_id, lock=True)
    if not (user.has_role("unit_clerk") and user.unit_id == case.unit_id):
        raise Forbidden("只有本单位经办人可以撤回申请")
    if case.state != "running":
        raise Conflict(f"案件{case.state_label}，不能撤回", code="not_running")
    if not can_withdraw(user, case):
        raise Conflict("业务科室已开始办理，不能撤回；如需修改请联系业务科室退回", code="already_reviewed")
    parsed = processes.parsed_version(case.version)
    run = adapter.Run.load(parsed, case.workflow_json)
    run.cancel()
    ctx = Context(user, case)
    db.session.add(CaseStep(case_id=case.id, task_id="withdraw-" + str(case.id), bpmn_id="withdraw",
                            name="撤回申请", role="unit_clerk", user_id=user.id, decision="withdraw",
                            opinion=None, data={}))
    set_state(ctx, "withdrawn")
    _save_run(case, run, user)
    audit(user, "case.withdraw", f"case:{case.id}", ip=ip, number=case.number)
    _flush(case)
    return case


OFFICE_MAX_UNPACKED = 100 * 1024 * 1024
OFFICE_MAX_RATIO = 100


def _check_office(name, content):
    """A .docx/.xlsx is a zip: it must open as one with the Office manifest inside, and must not
    unpack to more than 100 MB or 100 times its size (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
            if "[Content_Types].xml" not in {e.filename for e in entries}:
                raise zipfile.BadZipFile
            unpacked = sum(e.file_size for e in entries)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise ValidationFailed(f"附件「{name}」不是有效的 Office 文件",
                               fields={"attachments": [f"「{name}」已损坏或不是 Office 文件"]}) from None
    if unpacked > OFFICE_MAX_UNPACKED or unpacked > OFFICE_MAX_RATIO * len(content):
        raise ValidationFailed(f"附件「{name}」解压后过大，疑似压缩炸弹",
                               fields={"attachments": [f"「{name}」解压后达 {_size(unpacked)}，不予接收"]})


def _check_files(files, case=None):
    """The files are acceptable, and with the case's attachments (counted under the case's lock,
    which the caller holds) they stay within UPLOADS_PER_CASE for the whole case."""
    cfg = current_app.config
    limit = cfg["UPLOAD_MAX_BYTES"]
    most = cfg["UPLOADS_PER_CASE"]
    if len(files) > most:
        raise ValidationFailed(f"一次最多上传 {most} 个附件", fields={"attachments": ["附件过多"]})
    if files and case is not None and case.id is not None:
        existing = db.session.scalar(select(func.count(Attachment.id)).where(Attachment.case_id == case.id))
        if existing + len(files) > most:
            raise ValidationFailed(
                f"每个案件最多 {most} 个附件：本案已有 {existing} 个，本次上传 {len(files)} 个",
                fields={"attachments": [f"本案还可上传 {max(most - existing, 0)} 个附件"]})
    for name, content in files:
        ext = PurePath(name).suffix.lower()
        if ext not in cfg["UPLOAD_ALLOWED"]:
            raise ValidationFailed(f"附件「{name}」的类型不允许", fields={"attachments": [
                f"「{name}」：只接受 {'、'.join(sorted(cfg['UPLOAD_ALLOWED']))} 文件"]})
        if len(content) == 0:
            raise ValidationFailed(f"附件「{name}」是空文件", fields={"attachments": [f"「{name}」是空文件"]})
        if len(content) > limit:
            raise ValidationFailed(f"附件「{name}」超过 {_size(limit)}",
                                   fields={"attachments": [f"「{name}」超过大小上限 {_size(limit)}"]})
        if not any(content.startswith(m) for m in MAGIC[ext]):
            raise ValidationFailed(f"附件「{name}」的内容与扩展名不符",
                                   fields={"attachments": [f"「{name}」不是真正的 {ext} 文件"]})
        if ext in (".docx", ".xlsx"):
            _check_office(name, content)


def _store_files(user, case, files):
    for name, content in files:
        ext = PurePath(name).suffix.lower()
        db.session.add(Attachment(case_id=case.id, filename=PurePath(name).name[:200],
                                  content_type=current_app.config["UPLOAD_ALLOWED"][ext], size=len(content),
                                  sha256=hashlib.sha256(content).hexdigest(), content=content,
                                  uploaded_by_id=user.id))


def add_attachments(user, case, files, ip=None):
    """Files added to a running case by its unit (e.g. when answering a return)."""
    if not (user.has_role("unit_clerk") and user.unit_id == case.unit_id):
        raise Forbidden("只有本单位经办人可以上传附件")
    if case.state not in ("running", "approved"):
        raise Conflict("案件已办结，不能再上传附件")
    # the case row locked: two uploads at once cannot both pass the per-case count
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    _check_files(files, case)
    _store_files(user, case, files)
    audit(user, "case.attach", f"case:{case.id}", ip=ip, files=[n for n, _ in files])
    db.session.flush()


def get_attachment(user, attachment_id):
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        raise NotFound("附件不存在")
    get_case(user, att.case_id)
    return att
