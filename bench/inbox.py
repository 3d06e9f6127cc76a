"""Benchmark: the inbox page query with tens of thousands of open tasks.

Builds N open tasks (default 50,000) on as many running cases of the demo's units by bulk insert
(Core executemany, not the ORM one by one), routed as organisation.routing routes them: 60 % at
the unit's section (业务科室), 30 % at its leaders in charge, 10 % back at the unit;
due dates spread over 30 days either side of today, 3 % without a limit, 10 % claimed. Then
times, for reviewer1 (and leader1), what a page view runs:

  first page      待办, page 1 (50 rows), urgency order: inbox.operations.page()
  deep page       the page after row 1,000 (keyset cursor: the same cost as page 1)
  overdue         filter due=overdue, page 1
  one unit        filter unit=<code>, page 1
  text search     filter q=<part of a case number> (a LIKE scan: the slow path, shown for honesty)
  nav count       the navigation's count of actionable tasks (capped at 1,000: "999+")

Each is the full operation: SQL built, executed, 50 rows loaded as ORM objects with their case
and unit. No workflow blob is read and SpiffWorkflow is not involved: the inbox reads only the
open_tasks table (and cases, units), whatever the number of running cases.

Run:  .venv/bin/python bench/inbox.py                       (SQLite, a fresh file in a temp dir)
      .venv/bin/python bench/inbox.py --tasks 50000 --runs 200
      .venv/bin/python bench/inbox.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/helper_inbox_bench
With --pg the named database is created if missing and its public schema is DROPPED and rebuilt:
never point it at a shared database (the names test and postgres are refused).
"""
import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))  # this checkout's code, whatever .venv points at

from sqlalchemy import insert, select, text  # noqa: E402
from benchlib import prepare_postgres  # noqa: E402  (bench/ is the script's folder)

PASSWORD = "bench123"
BATCH = 5000


def make_app(database_url):
    from flask_migrate import upgrade

    from bianzhi import create_app
    from bianzhi.demo import load_demo
    from bianzhi.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade()
        load_demo(PASSWORD)
        db.session.commit()
    return app


def build(app, count, seed=5):
    """`count` running cases with one open task each, bulk inserted."""
    from bianzhi import clock
    from bianzhi.accounts.models import User
    from bianzhi.cases.models import NO_LIMIT, Case, OpenTask
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Unit
    from bianzhi.processes.models import ProcessVersion

    rng = random.Random(seed)
    with app.app_context():
        version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == "vacancy_use"))
        units = db.session.execute(select(Unit.id, Unit.code)).all()
        # routed as organisation.routing.route routes a step that opens (issue 15): the unit's
        # section for the 初审, its leaders in charge for the leader step, the unit for its own
        where = {uid: (office_id, section_id) for uid, office_id, section_id in
                 db.session.execute(select(Unit.id, Unit.office_id, Unit.section_id))}
        pools = {"reviewer": "section", "leader": "section_leader", "unit_clerk": "unit"}
        users = dict(db.session.execute(select(User.username, User.id)).all())
        clerks = {db.session.scalar(select(User.unit_id).where(User.id == users[c])): users[c]
                  for c in ("clerk1", "clerk2", "clerk3")}
        today, now = clock.today(), clock.now()
        steps = [("Task_review", "业务科室初审", "业务科室", "reviewer", "review"),
                 ("Task_leader", "分管领导审核", "分管领导", "leader", "review"),
                 ("Task_apply", "填写空编使用申请", "单位经办人", "unit_clerk", "vacancy_use_apply")]
        db.session.commit()
        for first in range(0, count, BATCH):
            cases, tasks = [], []
            for i in range(first, min(first + BATCH, count)):
                unit_id = rng.choice(list(clerks)) if rng.random() < 0.5 else rng.choice(units)[0]
                starter = clerks.get(unit_id, users["clerk1"])
                created = now - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
                cases.append({"id": i + 1, "number": f"BENCH-{i + 1:06d}", "process_key": "vacancy_use",
                              "version_id": version.id, "unit_id": unit_id, "started_by_id": starter,
                              "state": "running", "title": f"空编使用（事业编制 {1 + i % 3} 名）", "data": {},
                              "workflow_json": "", "revision": 1, "created_at": created, "updated_at": created})
                roll = rng.random()
                bpmn_id, name, lane, role, form = steps[0 if roll < 0.6 else 1 if roll < 0.9 else 2]
                due = None if rng.random() < 0.03 else today + timedelta(days=rng.randint(-30, 30))
                tasks.append({"id": str(uuid4()), "case_id": i + 1, "bpmn_id": bpmn_id, "name": name, "lane": lane,
                              "role": role, "unit_id": unit_id if role == "unit_clerk" else None, "form_key": form,
                              "due_date": due, "sort_due": due or NO_LIMIT, "created_at": created,
                              "assignee_id": users["reviewer2"] if role == "reviewer" and rng.random() < 0.1
                              else None, "pool": pools[role], "office_id": where[unit_id][0],
                              "section_id": None if role == "unit_clerk" else where[unit_id][1]})
            db.session.execute(insert(Case), cases)
            db.session.execute(insert(OpenTask), tasks)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"SELECT setval('cases_id_seq', {count + 1000})"))
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.session.remove()


def measure(fn, runs, warmup=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def plan(app, user):
    """The database's plan for the first page (what makes it cheap)."""
    from bianzhi.extensions import db
    from bianzhi.inbox import operations as inbox

    query = inbox.page_query(user, inbox.Filters())
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    return [" ".join(str(c) for c in row[-1:]) for row in db.session.execute(text(prefix + sql))]


def run(app, runs, username):
    from bianzhi.accounts.models import User
    from bianzhi.extensions import db
    from bianzhi.inbox import operations as inbox

    results = []
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        everything = inbox.Filters()
        rows, _ = inbox.page(user, everything, limit=1000)
        deep_cursor = inbox.encode_cursor(rows[-1])
        unit_code = rows[0].case.unit.code
        needle = rows[3].case.number[-4:]
        cases = [
            ("first page", lambda: inbox.page(user, everything)),
            ("deep page (after row 1,000)", lambda: inbox.page(user, everything, after=deep_cursor)),
            ("overdue", lambda: inbox.page(user, inbox.Filters(due="overdue"))),
            ("one unit", lambda: inbox.page(user, inbox.Filters(unit=unit_code))),
            (f"text search q={needle}", lambda: inbox.page(user, inbox.Filters(q=needle))),
            ("nav count (capped)", lambda: inbox.count(user)),
        ]
        for label, fn in cases:
            def once(fn=fn):
                fn()
                db.session.rollback()  # each view is its own transaction, as a request's is
            results.append((label, *measure(once, runs)))
        lines = plan(app, user) if username == "reviewer1" else None
        db.session.remove()
    return results, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL URL (its public schema is dropped!)")
    args = ap.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare_postgres(args.pg) if args.pg else f"sqlite:///{tmp}/bench.sqlite3"
        backend = "PostgreSQL" if args.pg else "SQLite"
        app = make_app(url)
        started = time.perf_counter()
        build(app, args.tasks)
        print(f"{backend}: {args.tasks:,} open tasks on as many running cases, bulk inserted in "
              f"{time.perf_counter() - started:.1f} s")
        print("Inbox page query (50 rows, ORM objects loaded; no workflow blob, no SpiffWorkflow):")
        lines = []
        for username in ("reviewer1", "leader1"):
            results, found = run(app, args.runs, username)
            lines = found or lines
            print(f"\n  as {username}: median / p95 over {args.runs} runs")
            for label, median, p95 in results:
                print(f"    {label:<32} {median:8.2f} ms {p95:8.2f} ms")
        print("\n  first page's plan (as reviewer1):")
        for line in lines:
            print("    " + line)
        with app.app_context():
            from bianzhi.extensions import db
            db.engine.dispose()


if __name__ == "__main__":
    main()
