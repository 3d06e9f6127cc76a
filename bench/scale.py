"""Benchmark: the reading side at district, city and province scale (1x, 10x, 100x), on PostgreSQL.

For each scale, a database of its own (bench_scale_1 / _10 / _100 beside the URL's server) is
filled once by `flask demo --scale district|city|province` (bianzhi.demo_scale, COPY) and reused
on later runs; --regenerate drops and rebuilds it. Then, in this one process (the size of one
web worker), through the test client with a bearer token where a page or API call exists:

  inbox page        GET /api/v1/tasks as reviewer1 (first page, 50 rows, urgency order)
  unit figures      GET /api/v1/units/<code>/establishment, a different unit each time
  超编 units         reports.establishment_exceptions() (every 超编/满编 line of the ledger)
  自然减员 12 months  reports.retiring(today, 12)
  roster, one unit  reports.write_roster(unit): .xlsx of one unit (~40 people)
  roster, district  reports.write_roster() at 1x only: every person on roll (~18,300, a district)
  notice PDF        GET /api/v1/notices/<id>.pdf: the first download renders (WeasyPrint) and
                    stores it, later downloads send the stored PDF

and prints median / p95 per scale, a growth table (1x -> 10x -> 100x), the peak memory of
this process, and the plans (EXPLAIN ANALYZE) of the hot queries at the largest scale.

Run:  .venv/bin/python bench/scale.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
      .venv/bin/python bench/scale.py --pg URL --scales 1 10     (skip the province)
"""
import argparse
import logging
import random
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PASSWORD = "bench123"
NAMES = {1: "district", 10: "city", 100: "province"}
DECISION = {"decision": "approve", "opinion": "同意"}
APPLICATION = {"unit": "12330621B01000000X", "category": "事业编制", "count": 1, "channel": "调任",
               "reason": "检验科人员不足"}


def database(server_url, factor, regenerate):
    """The URL of the scale's database, created and filled unless it is there already."""
    url = make_url(server_url).set(database=f"bench_scale_{factor}")
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database})
        if exists and regenerate:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.connect() as conn:
        ready = conn.scalar(text("SELECT to_regclass('public.units') IS NOT NULL")) and conn.scalar(
            text("SELECT count(*) FROM units WHERE code LIKE '12S%'"))
        current = ready and set(conn.scalars(text("SELECT version_num FROM alembic_version")))
    engine.dispose()
    if ready and (current != heads() or missing_tables(rendered)):  # the models changed since
        print(f"  {url.database}: made by an older schema: regenerating", flush=True)
        return database(server_url, factor, True)
    if not ready:
        generate(rendered, factor)
    return rendered


def missing_tables(url):
    from sqlalchemy import inspect

    from bianzhi import create_app
    from bianzhi.extensions import db
    engine = create_engine(url)
    present = set(inspect(engine).get_table_names())
    engine.dispose()
    create_app({"SQLALCHEMY_DATABASE_URI": url})  # imports every model
    return set(db.metadata.tables) - present


def heads():
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    config = Config()
    config.set_main_option("script_location", str(ROOT / "platform" / "bianzhi" / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def generate(url, factor):
    from flask_migrate import upgrade

    from bianzhi import create_app, demo_scale
    from bianzhi.demo import load_demo
    from bianzhi.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        load_demo(PASSWORD)
        db.session.commit()
        counts = demo_scale.generate(NAMES[factor], progress=lambda line: print(f"    {line}", flush=True))
        demo_scale.analyze()
        print(f"  generated {NAMES[factor]} ({', '.join(f'{k} {v:,}' for k, v in counts.items())}) "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        db.session.remove()
        db.engine.dispose()


def timed(fn, runs, warmup=3):
    """(median ms, p95 ms, runs, median CPU ms of this process, peak RSS MB so far). Wall time
    includes waiting for the database and for a CPU (the machine is shared); CPU time is this
    process's own work, without PostgreSQL's."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    return (statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], len(times),
            statistics.median(cpu), peak_mb())


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def notices(app, client, tokens, count):
    """`count` approved cases, each with its notice; returns the notice ids."""
    def post(path, body, who):
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})
        assert response.status_code in (200, 201), (path, response.status_code, response.get_json())
        return response.get_json()
    ids = []
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Establishment, Unit
    with app.app_context():  # room for the approvals in clerk1's unit
        unit_id = db.session.scalar(select(Unit.id).where(Unit.code == APPLICATION["unit"]))
        est = db.session.scalar(select(Establishment).where(Establishment.unit_id == unit_id,
                                                            Establishment.category == "事业编制"))
        est.approved += count
        db.session.commit()
        db.session.remove()
    for _ in range(count):
        case = post("/api/v1/cases", {"process": "vacancy_use", "data": dict(APPLICATION)}, "clerk1")
        case = post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete", {"data": DECISION}, "reviewer1")
        case = post(f"/api/v1/tasks/{case['tasks'][0]['id']}/complete", {"data": DECISION}, "leader1")
        listed = client.get(f"/api/v1/cases/{case['id']}/notices",
                            headers={"Authorization": f"Bearer {tokens['clerk1']}"}).get_json()
        ids.append(listed[0]["id"])
    return ids


def measure(url, factor, runs):
    from bianzhi import create_app
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Unit
    from bianzhi.reports import operations as reports
    from bianzhi.demo_scale import CODE_PREFIX

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    client = app.test_client()
    tokens = {}
    for username in ("clerk1", "reviewer1", "leader1", "admin"):
        response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.get_json()
        tokens[username] = response.get_json()["token"]
    rng = random.Random(factor)
    results = {}
    with app.app_context():
        codes = db.session.scalars(select(Unit.code).where(Unit.code.like(CODE_PREFIX + "%"))).all()
        one_unit = db.session.scalar(select(Unit).where(Unit.code == codes[len(codes) // 2]))
        db.session.remove()

    def get(path, who):
        def call():
            response = client.get(path() if callable(path) else path,
                                  headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200, (response.status_code, response.get_data()[:300])
            return response
        return call

    results["inbox page (API, 50 rows)"] = timed(get("/api/v1/tasks", "reviewer1"), runs)
    results["unit figures (API)"] = timed(get(lambda: f"/api/v1/units/{rng.choice(codes)}/establishment",
                                              "admin"), runs)
    with app.app_context():
        def in_transaction(fn):
            def call():
                fn()
                db.session.rollback()
            return call
        few = max(5, runs // 20)
        results["超编 units (standing query)"] = timed(in_transaction(reports.establishment_exceptions), few, 1)
        today = date.today()
        results["自然减员, 12 months"] = timed(in_transaction(lambda: reports.retiring(today, 12)), few, 1)
        unit = db.session.merge(one_unit)

        def roster(unit=None):
            out, rows = reports.write_roster(unit)
            out.close()
            return rows
        results["roster .xlsx, one unit"] = timed(in_transaction(lambda: roster(unit)), few, 1)
        if factor == 1:
            rows = roster()
            results[f"roster .xlsx, district ({rows:,})"] = timed(in_transaction(roster), 3, 0)
        db.session.remove()
    notice_ids = notices(app, client, tokens, 20)
    firsts = iter(notice_ids)
    results["notice PDF, first download"] = timed(lambda: get(f"/api/v1/notices/{next(firsts)}.pdf", "clerk1")(),
                                                  len(notice_ids) - 2, 2)
    results["notice PDF, stored"] = timed(get(lambda: f"/api/v1/notices/{rng.choice(notice_ids)}.pdf", "clerk1"),
                                          runs)
    plans = explain(app, one_unit.id) if factor == max(ARGS.scales) else []
    with app.app_context():
        db.engine.dispose()
    return results, plans


def explain(app, unit_id):
    """EXPLAIN (ANALYZE) of the hot queries: what the database does for each."""
    from bianzhi.accounts.models import User
    from bianzhi.extensions import db
    from bianzhi.inbox import operations as inbox
    from bianzhi.ledger import retirement
    from bianzhi.ledger.models import Person
    out = []
    with app.app_context():
        reviewer = db.session.scalar(select(User).where(User.username == "reviewer1"))
        queries = {
            "inbox first page": inbox.page_query(reviewer, inbox.Filters()),
            "people on roll of one unit (figures)": text(
                f"SELECT category, count(*) FROM people WHERE unit_id = {unit_id} AND status = 'on_roll' "
                "GROUP BY category"),
            "on roll per unit and category (超编)": text(
                "SELECT unit_id, category, count(*) FROM people WHERE status = 'on_roll' GROUP BY unit_id, category"),
            "retiring candidates (自然减员)": select(Person.id).where(
                Person.status == "on_roll", Person.birth_date <= retirement.latest_birth_date(date.today(), 12)),
        }
        for label, query in queries.items():
            sql = query if isinstance(query, type(text(""))) else text(
                str(query.compile(db.engine, compile_kwargs={"literal_binds": True})))
            rows = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql.text)).scalars().all()
            out.append((label, rows))
        db.session.remove()
    return out


ARGS = None


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg", metavar="URL", required=True, help="a PostgreSQL server URL (databases bench_scale_N)")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100], choices=[1, 10, 100])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--regenerate", action="store_true")
    ARGS = ap.parse_args()
    logging.disable(logging.INFO)
    table = {}
    for factor in ARGS.scales:
        url = database(ARGS.pg, factor, ARGS.regenerate)
        print(f"{NAMES[factor]} ({factor}x):", flush=True)
        results, plans = measure(url, factor, ARGS.runs)
        for label, (median, p95, n, cpu, peak) in results.items():
            print(f"  {label:<34} median {median:8.1f} ms  p95 {p95:8.1f} ms  (n={n:3d})  CPU median {cpu:8.1f} ms"
                  f"  peak RSS so far {peak:4.0f} MB", flush=True)
        table[factor] = results
    print(f"\npeak memory of this process (one worker's work at every scale): {peak_mb():.0f} MB")
    print("\ngrowth, p95 ms:")
    labels = list(dict.fromkeys(label for results in table.values() for label in results))
    print(f"  {'':<34}" + "".join(f"{f'{f}x':>12}" for f in ARGS.scales))
    for label in labels:
        print(f"  {label:<34}" + "".join(f"{table[f][label][1]:12.1f}" if label in table[f] else f"{'-':>12}"
                                        for f in ARGS.scales))
    print("\ngrowth, CPU ms of this process (median):")
    for label in labels:
        print(f"  {label:<34}" + "".join(f"{table[f][label][3]:12.1f}" if label in table[f] else f"{'-':>12}"
                                        for f in ARGS.scales))
    for label, rows in plans:
        print(f"\nplan: {label}")
        for row in rows:
            print("    " + row)


if __name__ == "__main__":
    main()
