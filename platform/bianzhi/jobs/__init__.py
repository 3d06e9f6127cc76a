"""The worker's job handlers, by the `kind` of a row in `jobs` (bianzhi.worker runs them).

Two sorts, and the worker owns every commit (one per job):
- a database handler, `fn(job, now)`, changes the session (and flushes) inside the transaction
  that claimed the job; the worker marks the job done and commits both at once, so the job
  fires once and a worker killed mid-job leaves no trace;
- a leased handler, `fn(payload, checkpoint)`, for work that must not hold a transaction open
  (a WeasyPrint render, an e-mail, a long import with visible progress): the worker marks the
  job running until a lease ends and commits that, calls the handler, then marks it done and
  commits the handler's last changes with it. A handler that needs progress seen meanwhile
  asks the worker through `checkpoint` (worker.Checkpoint): `checkpoint()` commits the work so
  far, `checkpoint.outside(statement)` writes one statement in a transaction of its own.

GIVEN_UP: kind -> fn(payload, error), told when a leased job failed its last attempt (it
changes the session; the worker commits).
"""
from . import deadlines, mail, notices, roster

# kind -> (handler, leased)
HANDLERS = {
    "remind": (deadlines.remind, False),
    "escalate": (deadlines.escalate, False),
    "timer": (deadlines.fire_timer, False),
    "mail": (mail.send, True),  # SMTP cannot roll back: at least once
    "roster_import": (roster.run_import, True),  # progress checkpoints, then the import in one transaction
    "notice_pdf": (notices.render_pdf, True),  # a second of WeasyPrint must not hold SQLite's lock
}
GIVEN_UP = {"roster_import": roster.import_given_up}
