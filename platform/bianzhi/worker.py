"""The worker: runs due jobs (reminders, escalations, timer events, e-mail) —
`flask --app bianzhi worker`, started by `make run` beside the web server.

Several workers on several machines may share one PostgreSQL: a job is claimed with
`SELECT … FOR UPDATE SKIP LOCKED`, so each due job goes to exactly one of them. A database job
runs inside the transaction that claims it and marks it done: a worker killed mid-job leaves
no trace, its lock goes with its connection, and the job is still pending for the next worker;
it never fires twice. An e-mail job is leased instead (SMTP cannot roll back): marked running
until `locked_until`, retried after that if the worker died (so at least once). On SQLite there
is one worker; BEGIN IMMEDIATE already serializes it with the web server's writes.

The clock is injectable (`Worker(app, clock=lambda: datetime(...))`): tests jump over weekends
and holidays and check what fires when.
"""
import logging
import signal
import threading
import traceback
from datetime import timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from . import clock as platform_clock
from .extensions import db
from .inbox import deadlines
from .inbox.models import Job
from .jobs import GIVEN_UP, HANDLERS  # kind -> (handler, leased); see bianzhi.jobs

log = logging.getLogger("bianzhi.worker")

MAX_ATTEMPTS = 5
KEEP_FINISHED = timedelta(days=90)  # done and cancelled jobs are kept this long, then purged


class Checkpoint:
    """What a leased job's handler may ask of the worker, which owns the job's commits (the
    handlers never commit): `checkpoint()` commits the work so far (progress others should see
    now); `checkpoint.outside(statement)` runs one statement in a transaction of its own,
    committed at once whatever the job's transaction does (the progress of a long one)."""

    def __call__(self):
        db.session.commit()

    def outside(self, statement):
        with db.engine.connect() as conn:
            conn.execute(statement)
            conn.commit()


def backoff(attempts):
    """1, 4, 16, 64 minutes … between retries."""
    return timedelta(minutes=4 ** max(attempts - 1, 0))


class Worker:
    def __init__(self, app, clock=None, lease=timedelta(minutes=5), name="worker"):
        self.app = app
        self.clock = clock or platform_clock.real_now  # the real time, unless a test gives another
        self.lease = lease
        self.name = name
        self.stop = threading.Event()

    # --- one pass -------------------------------------------------------------------------

    def run_once(self, limit=500):
        """Run the jobs due now (at most `limit`); returns how many were run (done, skipped or
        failed-and-rescheduled)."""
        count = 0
        with self.app.app_context(), platform_clock.use(self.clock):
            try:
                while count < limit and not self.stop.is_set():
                    if not self._run_one():
                        break
                    count += 1
            finally:
                db.session.remove()
        return count

    def _claim(self, now):
        query = (select(Job).where(or_(and_(Job.status == "pending", Job.run_at <= now),
                                       and_(Job.status == "running", Job.locked_until < now)))
                 .order_by(Job.run_at, Job.id).limit(1))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return db.session.scalar(query.execution_options(populate_existing=True))

    def _run_one(self):
        now = self.clock()
        job = self._claim(now)
        if job is None:
            db.session.rollback()
            return False
        entry = HANDLERS.get(job.kind)
        if entry is None:
            self._failed(job, now, f"未知的任务类型 {job.kind}", final=True)
            return True
        handler, external = entry
        if external:
            return self._run_leased(job, handler, now)
        try:
            with db.session.begin_nested():
                outcome = handler(job, now)
        except Exception as exc:  # a failing job must not stop the others
            self._failed(job, now, _describe(exc))
            return True
        job_id, kind, key = job.id, job.kind, job.key
        job.status, job.done_at, job.attempts = "done", now, job.attempts + 1
        job.last_error = None if outcome != "skipped" else "已无需执行（环节已办理或案件已结束）"
        try:
            db.session.commit()
        except Exception as exc:  # the commit itself failed: nothing happened, try again later
            db.session.rollback()
            db.session.execute(update(Job).where(Job.id == job_id, Job.status == "pending").values(
                attempts=Job.attempts + 1, last_error=_describe(exc)[:4000], run_at=now + backoff(1)))
            db.session.commit()
            log.warning("%s: %s %s could not be committed: %s", self.name, kind, key, exc)
            return True
        log.info("%s: %s %s %s", self.name, kind, key, outcome or "done")
        return True

    def _run_leased(self, job, handler, now):
        job.status, job.locked_until, job.attempts = "running", now + self.lease, job.attempts + 1
        job_id, job_kind, payload, attempts = job.id, job.kind, dict(job.payload), job.attempts
        db.session.commit()
        try:
            handler(payload, Checkpoint())
            # the handler's last changes and the done mark: one commit
            db.session.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                               .values(status="done", done_at=now, locked_until=None, last_error=None))
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            final = attempts >= MAX_ATTEMPTS
            db.session.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
                status="failed" if final else "pending", locked_until=None, last_error=_describe(exc),
                run_at=now + backoff(attempts), done_at=now if final else None))
            if final and job_kind in GIVEN_UP:
                GIVEN_UP[job_kind](payload, _describe(exc))
            db.session.commit()
            log.warning("%s: %s #%s failed: %s", self.name, job_kind, job_id, exc)
            return True
        log.info("%s: %s #%s done", self.name, job_kind, job_id)
        return True

    def _failed(self, job, now, message, final=False):
        """Still holding the claim: count the attempt, keep the error, retry later (or give up)."""
        job.attempts += 1
        job.last_error = message[:4000]
        if final or job.attempts >= MAX_ATTEMPTS:
            job.status, job.done_at = "failed", now
        else:
            job.run_at = now + backoff(job.attempts)
        db.session.commit()
        log.warning("%s: %s %s failed (attempt %s): %s", self.name, job.kind, job.key, job.attempts,
                    message.splitlines()[0] if message else "")

    def purge(self):
        """Delete done and cancelled jobs finished more than KEEP_FINISHED ago (failed ones stay
        for someone to look at). Returns how many."""
        with self.app.app_context():
            try:
                count = db.session.execute(delete(Job).where(Job.status.in_(("done", "cancelled")),
                                                              Job.done_at < self.clock() - KEEP_FINISHED)).rowcount
                db.session.commit()
                return count
            finally:
                db.session.remove()

    # --- the loop -------------------------------------------------------------------------

    def _schedule_missing(self):
        with self.app.app_context(), platform_clock.use(self.clock):
            try:
                looked = deadlines.schedule_missing(self.clock())
                db.session.commit()
                if looked:
                    log.info("%s: scheduled deadlines for %s open tasks that had none", self.name, looked)
            finally:
                db.session.remove()

    def run_forever(self, interval=5.0):
        """Poll every `interval` seconds until SIGTERM/SIGINT (or `stop` is set)."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        while not self.stop.is_set():  # started while the database is down: wait for it
            try:
                self._schedule_missing()
                break
            except OperationalError as exc:
                _database_away(self.name, exc, interval)
                self.stop.wait(interval)
        log.info("%s: started, polling every %ss", self.name, interval)
        purged_at = None
        while not self.stop.is_set():
            try:
                if purged_at is None or self.clock() - purged_at > timedelta(hours=6):
                    purged_at = self.clock()
                    self.purge()
                ran = self.run_once()
            except OperationalError as exc:  # the database is away: wait and try again
                _database_away(self.name, exc, interval)
                ran = 0
            except Exception:  # never let one bad pass end the worker
                log.exception("%s: pass failed", self.name)
                ran = 0
            if not ran:
                self.stop.wait(interval)
        log.info("%s: stopped", self.name)


def _database_away(name, exc, interval):
    log.warning("%s: 数据库不可用，%s 秒后重试：%s", name, interval, str(exc).splitlines()[0])


def _describe(exc):
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}\n" + "".join(traceback.format_exception(exc)[-3:])
