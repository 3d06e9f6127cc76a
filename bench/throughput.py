"""Benchmark: task completions per second under gunicorn on PostgreSQL, then an exact check.

The app runs under gunicorn (one worker per core, gthread with a few threads each so a worker
waiting on the database can serve another request) against a scratch PostgreSQL database.
Prepared beforehand, in bulk: N 空编使用 cases spread over U units, each waiting at the step
to complete (the earlier steps already recorded). The load generator (C client threads on
loopback, one keep-alive connection each) completes every case's task once, each case by
exactly one client, through POST /api/v1/tasks/<id>/complete:

  --step review   reviewer1 approves 业务科室初审: engine, the leader's task opens with its
                  deadline jobs, audit entry (the ledger does not change at this step)
  --step leader   leader1 approves 分管领导审核: the engine runs Service_reserve (a reservation
                  and a chronicle entry: the ledger effect), issues the 空编使用审核表 notice
                  (stored HTML; the PDF is rendered on first download, not here) and opens the
                  unit's 落编登记 task

Afterwards, straight from the database: every case answered 200 has exactly one recorded step,
its next task open and the completed one closed, and (leader) exactly one reservation and one
chronicle entry; every other case none of these; the places the chronicle says were reserved
equal the reservations held; the audit chain verifies.

Run:  .venv/bin/python bench/throughput.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/bench_tp
      options: --step review|leader --cases 6000 --clients 16 --workers 2 --threads 4 --units 200
The named database's public schema is DROPPED and rebuilt (test and postgres are refused).
"""
import argparse
import http.client
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

import task_completion as tc  # noqa: E402

CATEGORY = "事业编制"
DECISION = {"decision": "approve", "opinion": "同意，按程序办理"}


STEPS = {  # what is completed, by whom, what the case does next, the ledger effect expected
    "review": ("Task_review", "reviewer1", "Task_leader", None),
    "leader": ("Task_leader", "leader1", "Task_register", "reserve"),
}


def prepare(app, n_cases, n_units, step, seed=8):
    """Bench units with room, and `n_cases` cases waiting at `step`, bulk inserted."""
    from bianzhi.accounts.models import User
    from bianzhi.cases.models import Case, CaseStep, OpenTask
    from bianzhi.engine import adapter
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Establishment, Unit
    from bianzhi.processes import operations as processes

    rng = random.Random(seed)
    with app.app_context():
        db.session.execute(insert(Unit), [
            {"code": f"12330699T{i:08d}X", "name": f"压测事业单位{i:04d}", "kind": "事业单位", "level": "正科级",
             "nature": "公益一类", "funding": "全额", "system": "教育", "status": "active"} for i in range(n_units)])
        units = db.session.execute(select(Unit.id, Unit.code).where(Unit.code.like("12330699T%"))).all()
        db.session.execute(insert(Establishment), [
            {"unit_id": u.id, "category": CATEGORY, "approved": n_cases} for u in units])
        users = dict(db.session.execute(select(User.username, User.id)).all())
        version = processes.latest("vacancy_use")
        parsed = processes.parsed_version(version)

        def noop(element, data):
            return None
        cases, steps, tasks = [], [], []
        now = tc_now()
        for i in range(n_cases):
            unit = units[i % len(units)]
            apply = {"unit": unit.code, "category": CATEGORY, "count": 1, "channel": "调任",
                     "reason": f"压测：第 {i + 1} 件空编使用申请"}
            review = {"decision": "approve", "opinion": "同意"}
            run = adapter.Run.start(parsed, noop)
            first = run.human_tasks()[0]
            run.complete(first.id, dict(apply), noop)
            second = run.human_tasks()[0]
            done = [(first, "unit_clerk", "clerk1", apply, "submit")]
            if step == "leader":
                run.complete(second.id, dict(review), noop)
                done.append((second, "reviewer", "reviewer1", review, "approve"))
            leader = run.human_tasks()[0]
            assert leader.element.id == STEPS[step][0], leader.element.id
            case_id = i + 1
            cases.append({"id": case_id, "number": f"TP-{case_id:06d}", "process_key": "vacancy_use",
                          "version_id": version.id, "unit_id": unit.id, "started_by_id": users["clerk1"],
                          "state": "running", "title": f"空编使用（{CATEGORY} 1 名）", "data": apply,
                          "workflow_json": run.dump(), "revision": 1, "created_at": now, "updated_at": now})
            for task, role, user, data, decision in done:
                steps.append({"case_id": case_id, "task_id": task.id, "bpmn_id": task.element.id,
                              "name": task.element.name, "role": role, "user_id": users[user],
                              "decision": decision, "opinion": data.get("opinion"), "data": data, "at": now})
            tasks.append({"id": leader.id, "case_id": case_id, "bpmn_id": leader.element.id,
                          "name": leader.element.name, "lane": leader.element.lane,
                          "role": "leader" if step == "leader" else "reviewer", "unit_id": None, "form_key": "review",
                          "due_date": None, "sort_due": tc_no_limit(), "created_at": now})
        for first in range(0, n_cases, 2000):
            db.session.execute(insert(Case), cases[first:first + 2000])
        for first in range(0, len(steps), 2000):
            db.session.execute(insert(CaseStep), steps[first:first + 2000])
        db.session.execute(insert(OpenTask), tasks)
        db.session.execute(text(f"SELECT setval('cases_id_seq', {n_cases + 1})"))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        rng.shuffle(tasks)
        return [(t["id"], t["case_id"]) for t in tasks]


def tc_now():
    from bianzhi import clock
    return clock.now()


def tc_no_limit():
    from bianzhi.cases.models import NO_LIMIT
    return NO_LIMIT


def start_gunicorn(url, workers, threads, port):
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-" + uuid4().hex}
    cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--pythonpath", str(ROOT / "platform"),
           "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--keep-alive", "30",
           "bianzhi:create_app()"]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("gunicorn did not start")


def token(port, username):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/api/v1/tokens", body=json.dumps({"username": username, "password": tc.PASSWORD}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 201, body
    return body["token"]


def rss_mb(pid):
    """Resident memory (MB) of the gunicorn workers (children of `pid`)."""
    sizes = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024)
    return sizes


def drive(port, tok, work, clients):
    """`clients` threads take tasks off one shared list; returns (ok case ids, errors, latencies)."""
    lock = threading.Lock()
    queue = list(work)
    ok, errors, latencies = [], [], []
    body = json.dumps({"data": DECISION}).encode()
    headers = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine_ok, mine_err, mine_lat = [], [], []
        while True:
            with lock:
                if not queue:
                    break
                task_id, case_id = queue.pop()
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"/api/v1/tasks/{task_id}/complete", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                mine_err.append((case_id, repr(exc)))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine_lat.append((time.perf_counter() - t0) * 1000)
            if response.status == 200:
                mine_ok.append(case_id)
            else:
                mine_err.append((case_id, f"{response.status} {payload[:200].decode(errors='replace')}"))
        conn.close()
        with lock:
            ok.extend(mine_ok)
            errors.extend(mine_err)
            latencies.extend(mine_lat)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok, errors, latencies, time.perf_counter() - started


def check(app, ok_cases, all_cases, step):
    """Every case's effects, from the database, against what the clients were told."""
    done_id, _user, next_id, effect = STEPS[step]
    from bianzhi.audit.operations import verify
    from bianzhi.cases.models import CaseStep, OpenTask
    from bianzhi.extensions import db
    from bianzhi.ledger.models import ChronicleEntry, Establishment, Reservation

    problems = []
    with app.app_context():
        def per_case(query):
            return dict(db.session.execute(query).all())
        leader_steps = per_case(select(CaseStep.case_id, func.count()).where(CaseStep.bpmn_id == done_id)
                                .group_by(CaseStep.case_id))
        reservations = per_case(select(Reservation.case_id, func.count()).where(Reservation.kind == "case")
                                .group_by(Reservation.case_id))
        chronicled = per_case(select(ChronicleEntry.case_id, func.count()).where(ChronicleEntry.case_id.is_not(None))
                              .group_by(ChronicleEntry.case_id))
        leader_open = set(db.session.scalars(select(OpenTask.case_id).where(OpenTask.bpmn_id == done_id)))
        register_open = per_case(select(OpenTask.case_id, func.count()).where(OpenTask.bpmn_id == next_id)
                                 .group_by(OpenTask.case_id))
        ok = set(ok_cases)
        for case_id in all_cases:
            want = 1 if case_id in ok else 0
            effects = want if effect else 0  # the review step changes no ledger figure
            got = (leader_steps.get(case_id, 0), reservations.get(case_id, 0), chronicled.get(case_id, 0),
                   register_open.get(case_id, 0), 0 if case_id in leader_open else 1)
            if got != (want, effects, effects, want, want):
                problems.append(f"case {case_id}: answered {'200' if want else 'error'}, found steps done/"
                                f"reservations/chronicle entries/next task/task closed = {got}")
        # the figures the chronicle implies equal the reservations held
        reserved_by_chronicle = sum(int((d or {}).get("reserved", 0)) for d in db.session.scalars(
            select(ChronicleEntry.delta).where(ChronicleEntry.action == "reserve")))
        reserved_rows = db.session.scalar(select(func.coalesce(func.sum(Reservation.count), 0))
                                          .where(Reservation.kind == "case"))
        if reserved_by_chronicle != reserved_rows:
            problems.append(f"chronicle says {reserved_by_chronicle} places reserved, reservations hold {reserved_rows}")
        verdict = verify()
        if not verdict.ok:
            problems.append(f"audit chain broken: {verdict.problem}")
        approved = db.session.scalar(select(func.sum(Establishment.approved)))
        db.session.remove()
    return problems, verdict.count, reserved_rows, approved


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg", metavar="URL", required=True, help="PostgreSQL URL (its public schema is dropped!)")
    ap.add_argument("--cases", type=int, default=6000)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (default: cores)")
    ap.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    ap.add_argument("--port", type=int, default=18_765)
    ap.add_argument("--step", choices=sorted(STEPS), default="review",
                    help="review: 业务科室初审 (no ledger effect); leader: 分管领导审核 (reservation, notice)")
    args = ap.parse_args()
    logging.disable(logging.INFO)

    url = tc.prepare_postgres(args.pg)
    app = tc.make_app(url)
    t0 = time.perf_counter()
    work = prepare(app, args.cases, args.units, args.step)
    prepared = time.perf_counter() - t0
    with app.app_context():
        from bianzhi.extensions import db
        db.engine.dispose()
    server = start_gunicorn(url, args.workers, args.threads, args.port)
    try:
        tok = token(args.port, STEPS[args.step][1])
        warm, work = work[:200], work[200:]  # first requests fill each worker's caches
        drive(args.port, tok, warm, args.clients)
        ok, errors, latencies, elapsed = drive(args.port, tok, work, args.clients)
        memory = rss_mb(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    ok_all = ok + [case_id for _, case_id in warm]  # the warm-up must have succeeded too (checked below)
    problems, audit_entries, reserved, _ = check(app, ok_all, [c for _, c in warm + work], args.step)
    latencies.sort()
    rate = len(ok) / elapsed
    print("Throughput on PostgreSQL: " + ("业务科室初审 approvals of 空编使用 (engine, next task, deadlines, audit)"
                                         if args.step == "review" else
                                         "分管领导审核 approvals of 空编使用 (reservation + chronicle + notice + next task)"))
    print(f"gunicorn {args.workers} workers x {args.threads} threads (gthread), {args.clients} client threads on "
          f"loopback, {os.cpu_count()} cores shared with the load generator and PostgreSQL")
    print(f"prepared {args.cases:,} cases over {args.units} units in {prepared:.1f} s (bulk), 200 for warm-up")
    print(f"completed {len(ok):,} in {elapsed:.1f} s: {rate:.0f} completions/s "
          f"({'meets' if rate >= 200 else 'MISSES'} the >= 200/s target)")
    print(f"latency p50 {statistics.median(latencies):.1f} ms, p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms, "
          f"max {latencies[-1]:.1f} ms")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"worker memory (RSS) after the run: {', '.join(f'{m:.0f} MB' for m in memory)}")
    print(f"check against the database: {len(problems)} problems; {reserved:,} places reserved = chronicle; "
          f"audit chain verified ({audit_entries:,} entries)")
    for problem in problems[:10]:
        print("  " + problem)
    with app.app_context():
        from bianzhi.extensions import db
        db.engine.dispose()
    return 1 if problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
