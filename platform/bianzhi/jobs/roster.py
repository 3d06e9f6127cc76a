"""Job `roster_import`: a roster import confirmed on the import page (queued by
reports.roster_import.queue), run by the worker.

Why the worker, and why two passes: the import must be one transaction, may take minutes for
a province and must not die with an HTTP timeout; the worker runs it whichever app server
queued it, and any app server answers the page's status polls from the RosterImport row.
Pass 1 checks the file again (the ledger may have changed since the preview), its progress
committed per batch through the worker's checkpoint, which every database shows. Pass 2
inserts in one transaction (the worker commits it with the job); its progress goes through
`checkpoint.outside` (a connection of its own) on PostgreSQL. SQLite has a single writer, so
there the bar shows 写入中 until the commit (pass 2 is the short part: no parsing is slower
than inserts).
"""
from sqlalchemy import update

from .. import clock
from ..accounts.models import User
from ..errors import ValidationFailed
from ..extensions import db
from ..reports import roster_import
from ..reports.models import RosterImport


def import_given_up(payload, error):
    """The worker gave up on the import after its last attempt: say so on the import's page
    (nothing was imported: each attempt ran in one transaction that rolled back)."""
    db.session.execute(update(RosterImport).where(RosterImport.id == payload.get("import_id"),
                                                  RosterImport.status.in_(("queued", "running")))
                       .values(status="failed", phase=None, finished_at=clock.now(),
                               message=f"导入多次出错后已停止，未导入任何人员；请联系系统管理员（{error.splitlines()[0][:200]}）"))


def run_import(payload, checkpoint):
    """Safe to run twice. Commits only through `checkpoint`; the worker commits the end."""
    job = db.session.get(RosterImport, payload.get("import_id"))
    if job is None or job.status not in ("queued", "running"):
        return
    job_id, total, filename = job.id, job.total, job.filename
    user, valid_only, content = db.session.get(User, job.user_id), job.mode == "valid", job.content
    job.status, job.phase, job.done = "running", "校验", 0
    checkpoint()

    def checked(n):
        db.session.execute(update(RosterImport).where(RosterImport.id == job_id)
                           .values(done=min(n, total), phase="校验"))
        checkpoint()

    def written(n):
        if db.engine.dialect.name == "postgresql":  # SQLite: the import holds the only write lock
            checkpoint.outside(update(RosterImport).where(RosterImport.id == job_id)
                               .values(done=min(n, first.total), phase="写入"))

    try:
        first = roster_import.walk(content, user, progress=checked)  # the importer's office's units
        if first.refused and not valid_only:
            raise roster_import.RosterRefused(first)
        written(0)
        with db.session.begin_nested():  # a refusal in pass 2 takes back what it wrote, nothing else
            outcome = roster_import.import_roster(user, content, valid_only=valid_only,
                                                  target=f"roster_import:{job_id}", filename=filename,
                                                  progress=written)
    except ValidationFailed as exc:
        outcome = getattr(exc, "outcome", None)
        values = {"status": "failed", "message": exc.message, "finished_at": clock.now(), "phase": None}
        if outcome is not None:
            values.update(refused=outcome.refused, report=outcome.report(), done=0, total=outcome.total)
        db.session.execute(update(RosterImport).where(RosterImport.id == job_id).values(**values))
        return
    db.session.execute(update(RosterImport).where(RosterImport.id == job_id).values(
        status="done", phase=None, total=outcome.total, done=outcome.total, imported=outcome.valid,
        skipped=len(outcome.skipped), refused=outcome.refused, finished_at=clock.now(),
        message=f"已导入 {outcome.valid} 人"))
