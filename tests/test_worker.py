"""The worker: a job killed mid-way is retried and fires once; failures back off and give up;
the CLI; the loop stops on request; deadlines are scheduled for open tasks that have none."""
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from bianzhi import worker as worker_module
from bianzhi.extensions import db
from bianzhi.inbox import deadlines
from bianzhi.inbox.models import Job
from bianzhi.notifications.models import Notification
from bianzhi.worker import MAX_ATTEMPTS, Worker
from tests.fixtures.cases import start
from tests.fixtures.inbox import at, beijing, jobs, read, run_worker, user_id

ROOT = Path(__file__).resolve().parents[1]

# A worker process whose job writes, flushes, says so, then hangs until it is killed.
CHILD = r"""
import sys, time
from bianzhi import create_app
from bianzhi.extensions import db
from bianzhi.notifications.models import Notification
from bianzhi.worker import HANDLERS, Worker

def slow(job, now):
    db.session.add(Notification(user_id=job.payload["user_id"], kind="case", title="做了一半"))
    db.session.flush()
    open(sys.argv[2], "w").write("flushed")
    time.sleep(120)

HANDLERS["slow"] = (slow, False)
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "TESTING": True})
Worker(app).run_once()
"""


def add_job(app, kind, key, when, **payload):
    def fn():
        db.session.add(Job(kind=kind, key=key, run_at=when, payload=payload))
        db.session.commit()
    read(app, fn)


def titles(app):
    return read(app, lambda: [n.title for n in db.session.scalars(select(Notification).order_by(Notification.id))])


@pytest.mark.commits  # a worker subprocess claims the committed job
def test_a_job_killed_mid_way_is_retried_and_fires_once(app, tmp_path, monkeypatch):
    when = beijing(2024, 10, 9, 9)
    add_job(app, "slow", "slow:1", when, user_id=user_id(app, "reviewer1"))
    marker = tmp_path / "flushed"
    child = subprocess.Popen([sys.executable, "-c", CHILD, app.config["SQLALCHEMY_DATABASE_URI"], str(marker)],
                             cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the worker process ended before its job hung"
            assert time.monotonic() < deadline, "the worker process never reached its job"
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no cleanup, no rollback of its own
        child.wait(30)
    [job] = jobs(app, "slow")
    assert (job.status, job.attempts) == ("pending", 0)  # nothing of the killed run stayed
    assert titles(app) == []

    def quick(job, now):
        db.session.add(Notification(user_id=job.payload["user_id"], kind="case", title="做完了"))
    monkeypatch.setitem(worker_module.HANDLERS, "slow", (quick, False))
    ran, deadline = 0, time.monotonic() + 30
    while not ran:  # PostgreSQL ends the killed session's transaction when it sees the socket close
        ran = run_worker(app, when + timedelta(minutes=1))
        assert ran or time.monotonic() < deadline, "the job stayed locked"
        time.sleep(0 if ran else 0.2)
    assert ran == 1 and titles(app) == ["做完了"]
    [job] = jobs(app, "slow")
    assert (job.status, job.attempts) == ("done", 1)
    assert run_worker(app, when + timedelta(hours=1)) == 0 and titles(app) == ["做完了"]


def test_a_failing_job_backs_off_and_gives_up(app, monkeypatch):
    calls = []

    def broken(job, now):
        calls.append(now)
        db.session.add(Notification(user_id=job.payload["user_id"], kind="case", title="不应留下"))
        db.session.flush()
        raise RuntimeError("台账服务暂不可用")
    monkeypatch.setitem(worker_module.HANDLERS, "broken", (broken, False))
    start_at = beijing(2024, 10, 9, 9)
    add_job(app, "broken", "broken:1", start_at, user_id=user_id(app, "reviewer1"))
    now = start_at
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run_worker(app, now) == 1
        [job] = jobs(app, "broken")
        assert job.attempts == attempt and "台账服务暂不可用" in job.last_error
        if attempt < MAX_ATTEMPTS:
            assert job.status == "pending" and job.run_at == now + timedelta(minutes=4 ** (attempt - 1))
            assert run_worker(app, job.run_at - timedelta(seconds=1)) == 0
            now = job.run_at
    assert job.status == "failed" and len(calls) == MAX_ATTEMPTS
    assert titles(app) == []  # each failed attempt left nothing behind
    assert run_worker(app, now + timedelta(days=30)) == 0


def test_an_unknown_job_kind_fails_at_once(app):
    add_job(app, "mystery", "mystery:1", beijing(2024, 1, 2))
    assert run_worker(app, beijing(2024, 1, 2, 11)) == 1
    [job] = jobs(app, "mystery")
    assert job.status == "failed" and "未知的任务类型" in job.last_error


def test_the_cli_runs_due_jobs_once(app, api):
    with at(beijing(2024, 9, 27)):
        start(api("clerk1"))
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "已执行 2 个到期任务" in result.output  # today is long after 2024: reminder and escalation
    assert {j.status for j in jobs(app)} == {"done"}


@pytest.mark.commits  # the loop runs in a thread of its own
def test_the_loop_stops_when_asked(app):
    runner = Worker(app, clock=lambda: beijing(2024, 1, 2))
    thread = threading.Thread(target=runner.run_forever, kwargs={"interval": 0.05})
    thread.start()
    time.sleep(0.3)
    runner.stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_open_tasks_without_deadline_jobs_get_them(app, api):
    with at(beijing(2024, 9, 27)):
        start(api("clerk1"))

    def wipe_and_schedule():
        db.session.execute(delete(Job))
        db.session.commit()
        looked = deadlines.schedule_missing(beijing(2024, 9, 30))
        again = deadlines.schedule_missing(beijing(2024, 9, 30))
        db.session.commit()
        return looked, again, db.session.scalar(select(func.count()).select_from(Job))
    assert read(app, wipe_and_schedule) == (1, 0, 2)
    assert [(j.kind, j.run_at) for j in jobs(app)] == [("remind", beijing(2024, 10, 9, 9)),
                                                       ("escalate", beijing(2024, 10, 11, 9))]


def test_old_finished_jobs_are_purged(app, api):
    with at(beijing(2024, 9, 27)):
        start(api("clerk1"))
    assert run_worker(app, beijing(2024, 10, 11, 9)) == 2
    add_job(app, "mystery", "mystery:2", beijing(2024, 10, 11))
    run_worker(app, beijing(2024, 10, 11, 10))  # fails: failed jobs are kept
    assert Worker(app, clock=lambda: beijing(2024, 12, 1)).purge() == 0
    assert Worker(app, clock=lambda: beijing(2025, 1, 10)).purge() == 2
    assert [j.kind for j in jobs(app)] == ["mystery"]


@pytest.mark.commits  # a thread, and a copy of the database file
def test_a_worker_started_while_the_database_is_down_waits_for_it(app, tmp_path, caplog):
    """Started before the database is there: it says so (in Chinese) and retries, no traceback;
    when the database appears it schedules and runs as usual."""
    import logging
    import sqlite3

    from bianzhi import create_app

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the database is brought up by copying the SQLite file")
    later = tmp_path / "later"
    down = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{later}/db.sqlite3", "TESTING": True})
    runner = Worker(down, clock=lambda: beijing(2024, 1, 2))
    failures = []

    def run():
        try:
            runner.run_forever(interval=0.05)
        except BaseException as exc:  # what the CLI would print as a traceback
            failures.append(exc)

    caplog.set_level(logging.INFO, logger="bianzhi.worker")
    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while "数据库不可用" not in caplog.text and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.05)
        assert thread.is_alive() and not failures, failures
        assert "数据库不可用" in caplog.text and "秒后重试" in caplog.text
        with app.app_context():
            source = db.engine.url.database
        staging = tmp_path / "staging"  # the folder appears with the file in it, in one rename: a
        staging.mkdir()  # retry between a mkdir and the copy would create an empty database there
        with sqlite3.connect(source) as src, sqlite3.connect(staging / "db.sqlite3") as dst:
            src.backup(dst)  # the WAL's pages too, which a copy of the file would miss
        staging.rename(later)
        while "started, polling" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "started, polling" in caplog.text
    finally:
        runner.stop.set()
        thread.join(10)
        with down.app_context():
            db.engine.dispose()
    assert not thread.is_alive() and not failures, failures
