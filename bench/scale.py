"""Benchmark: the reading side at district, city and province scale (1x, 10x, 100x), on PostgreSQL,
in the organisation's shape (issue 15: offices, sections, routed tasks; bianzhi.demo_scale).

For each scale, a database of its own (bench_scale_1 / _10 / _100 beside the URL's server) is
filled once by `flask demo --scale district|city|province` (bianzhi.demo_scale, COPY) and reused
on later runs (one generated before the organisation's shape is rebuilt); --regenerate drops and
rebuilds it. Then, in this one process (the size of one web worker), through the test client
with a bearer token where a page or API call exists:

  inbox page, county reviewer   GET /api/v1/tasks?limit=50 as r330681jg1, a reviewer of 机关编制科
                                of the first generated county under 绍兴 (first page, 50 rows as
                                on the page, urgency order): their section's steps only
  inbox page, city reviewer     the same as r330600jg1 (绍兴市委编办's 机关编制科): the city units'
                                steps of the section and the counties' steps reported up to the city
  inbox, 500 rows               the API's largest page, county reviewer
  unit figures                  GET /api/v1/units/<code>/establishment as the county reviewer, a
                                different unit of the county each time
  超编 units, one county         reports.establishment_exceptions(jurisdiction.of(county reviewer))
  自然减员 12 months, one county  reports.retiring(today, 12, jurisdiction.of(county reviewer))
  statistics roll-up, city      statistics.overview_tables(jurisdiction.of(city reviewer), today),
                                the /statistics page: the city and its counties; again
                                with random_page_cost 1.1 for the transaction (rpc 1.1: the
                                planner told its pages are cached, as they are here)
  超编 / 自然减员, whole ledger    the same over every unit (what the flat office's standing queries read)
  roster, one unit              reports.write_roster(unit): .xlsx of one unit (~40 people)
  notice PDF                    GET /api/v1/notices/<id>.pdf: the first download renders (WeasyPrint)
                                and stores it, later downloads send the stored PDF

and prints median / p95 per scale, a growth table (1x -> 10x -> 100x), the peak memory of this
process, the plans (EXPLAIN ANALYZE) of the hot queries at the largest scale, and, with the
province, the table before (the flat shape, bench/RESULTS.md) / after (this run).

Run:  .venv/bin/python bench/scale.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
      .venv/bin/python bench/scale.py --pg URL --scales 1 10     (skip the province)
"""
from bianzhi import clock
import argparse
import logging
import os
import random
import resource
import statistics
import sys
import time
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
        flat = ready and not conn.scalar(text(f"SELECT EXISTS (SELECT 1 FROM users WHERE username = 'r{COUNTY}jg1')"))
        current = ready and set(conn.scalars(text("SELECT version_num FROM alembic_version")))
    engine.dispose()
    if flat:  # generated before issue 15's shape (one flat office): rebuild it in the organisation's
        print(f"  {url.database}: generated in the flat shape; regenerating", flush=True)
        return database(server_url, factor, True)
    if ready and (current != heads() or missing_tables(rendered)):
        # the models changed since it was generated (others work on the same tree): add the
        # tables that are new rather than spend minutes regenerating; --regenerate rebuilds it
        print(f"  {url.database}: generated by an older schema; creating the tables added since", flush=True)
        from bianzhi.extensions import db
        engine = create_engine(url)
        db.metadata.create_all(engine)
        engine.dispose()
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
        counts = demo_scale.generate(NAMES[factor], password=PASSWORD,
                                     progress=lambda line: print(f"    {line}", flush=True))
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
        t0 = time.perf_counter()
        fn()
        if time.perf_counter() - t0 > 5:  # a slow one: three timed runs tell enough
            runs = min(runs, 3)
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


COUNTY = "330681"  # the first generated county under the demo's city (绍兴), there at every scale
CITY = "330600"  # the demo's city: one of the province's 11, over the generated counties


def county_units(office_code):
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Unit
    from bianzhi.organisation.models import Office
    return db.session.scalars(select(Unit.id).join(Office, Office.id == Unit.office_id)
                              .where(Office.code == office_code).order_by(Unit.id)).all()


def user_named(username):
    from bianzhi.accounts.models import User
    from bianzhi.extensions import db
    return db.session.scalar(select(User).where(User.username == username))


def standing_queries(username):
    """(超编 fn, 自然减员 fn, how): the standing queries as the report page runs them for the user,
    over their office's jurisdiction (organisation.jurisdiction, read inside the timed call)."""
    from bianzhi.organisation import jurisdiction
    from bianzhi.reports import operations as reports
    today = clock.today()
    return (lambda: reports.establishment_exceptions(jurisdiction.of(user_named(username))),
            lambda: reports.retiring(today, 12, jurisdiction.of(user_named(username))),
            "reports.establishment_exceptions / retiring(scope=jurisdiction.of(county reviewer))")


def city_statistics(username):
    """(fn, how): the statistics page's roll-up (statistics.overview_tables, what /statistics
    shows) for a user of the city office: its own units' and its counties'."""
    from bianzhi.organisation import jurisdiction
    from bianzhi.statistics import operations as statistics
    today = clock.today()
    return (lambda: statistics.overview_tables(jurisdiction.of(user_named(username)), today),
            "statistics.overview_tables(jurisdiction.of(city reviewer), today)")


def measure(url, factor, runs):
    from bianzhi import create_app
    from bianzhi.extensions import db
    from bianzhi.ledger.models import Unit
    from bianzhi.reports import operations as reports

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    client = app.test_client()
    tokens = {}
    county_reviewer, city_reviewer = f"r{COUNTY}jg1", f"r{CITY}jg1"
    for username in ("clerk1", "reviewer1", "leader1", county_reviewer, city_reviewer):
        response = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.get_json()
        tokens[username] = response.get_json()["token"]
    rng = random.Random(factor)
    results = {}
    with app.app_context():
        county = county_units(COUNTY)
        codes = db.session.scalars(select(Unit.code).where(Unit.id.in_(county))).all()
        one_unit = db.session.scalar(select(Unit).where(Unit.code == codes[len(codes) // 2]))
        db.session.remove()

    def get(path, who, rows=None):
        def call():
            response = client.get(path() if callable(path) else path,
                                  headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == 200, (response.status_code, response.get_data()[:300])
            if rows is not None:  # the inbox is not empty
                assert len(response.get_json()) >= rows, (who, len(response.get_json()))
            return response
        return call

    results["inbox page, county reviewer"] = timed(get("/api/v1/tasks?limit=50", county_reviewer, 1), runs)
    results["inbox page, city reviewer"] = timed(get("/api/v1/tasks?limit=50", city_reviewer, 1), runs)
    results["inbox, 500 rows, county reviewer"] = timed(get("/api/v1/tasks", county_reviewer), max(10, runs // 5))
    results["unit figures (API, county's units)"] = timed(
        get(lambda: f"/api/v1/units/{rng.choice(codes)}/establishment", county_reviewer), runs)
    if ARGS.quick:
        with app.app_context():
            db.engine.dispose()
        return results, []
    with app.app_context():
        def in_transaction(fn):
            def call():
                fn()
                db.session.rollback()
            return call
        few = max(5, runs // 20)
        today = clock.today()
        exceptions, retiring, how = standing_queries(county_reviewer)
        RESULTS_NOTES["standing queries for a county"] = how
        results["超编 units, one county"] = timed(in_transaction(exceptions), few * 2, 1)
        results["自然减员 12 months, one county"] = timed(in_transaction(retiring), few * 2, 1)
        statistics_of_city, how = city_statistics(city_reviewer)
        RESULTS_NOTES["city statistics"] = how
        results["statistics roll-up, city"] = timed(in_transaction(statistics_of_city), few, 1)

        def cached_plans(fn):  # PostgreSQL told its pages are in memory (random_page_cost 1.1, the
            def call():       # usual setting for SSDs; the default 4 is for spinning disks)
                db.session.execute(text("SET LOCAL random_page_cost = 1.1"))
                fn()
            return call
        results["statistics roll-up, city, rpc 1.1"] = timed(in_transaction(cached_plans(statistics_of_city)), few, 1)
        results["超编 units, whole ledger"] = timed(in_transaction(reports.establishment_exceptions), few, 1)
        results["自然减员 12 months, whole ledger"] = timed(in_transaction(lambda: reports.retiring(today, 12)), few, 1)
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


RESULTS_NOTES = {}


def explain(app, unit_id):
    """EXPLAIN (ANALYZE) of the hot queries: what the database does for each."""
    from bianzhi.accounts.models import User
    from bianzhi.extensions import db
    from bianzhi.inbox import operations as inbox
    from bianzhi.ledger import retirement
    from bianzhi.ledger.models import Person
    out = []
    with app.app_context():
        county_reviewer = db.session.scalar(select(User).where(User.username == f"r{COUNTY}jg1"))
        city_reviewer = user_named(f"r{CITY}jg1")
        queries = {
            "inbox first page, county reviewer": inbox.page_query(county_reviewer, inbox.Filters()),
            "inbox first page, city reviewer": inbox.page_query(city_reviewer, inbox.Filters()),
            "people on roll of one unit (figures)": text(
                f"SELECT category, count(*) FROM people WHERE unit_id = {unit_id} AND status = 'on_roll' "
                "GROUP BY category"),
            "on roll per unit and category, one county (超编)": text(
                "SELECT unit_id, category, count(*) FROM people WHERE status = 'on_roll' "
                f"AND unit_id IN (SELECT u.id FROM units u JOIN offices o ON o.id = u.office_id WHERE o.code = '{COUNTY}') "
                "GROUP BY unit_id, category"),
            "retiring candidates (自然减员), whole ledger": select(Person.id).where(
                Person.status == "on_roll", Person.birth_date <= retirement.latest_birth_date(clock.today(), 12)),
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
    ap.add_argument("--quick", action="store_true", help="only the inbox and the figures (the per-request targets)")
    ARGS = ap.parse_args()
    logging.disable(logging.INFO)
    table = {}
    for factor in ARGS.scales:
        url = database(ARGS.pg, factor, ARGS.regenerate)
        print(f"{NAMES[factor]} ({factor}x): load average {os.getloadavg()[0]:.2f} at the start", flush=True)
        results, plans = measure(url, factor, ARGS.runs)
        load = os.getloadavg()[0]
        print(f"  load average {load:.2f} at the end" + (" (above 2: other work competed for the 2 cores; "
                                                         "rerun when quieter)" if load > 2 else ""), flush=True)
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
    for label, how in RESULTS_NOTES.items():
        print(f"\n{label}: {how}")
    if 100 in table:
        print("\nprovince, p95 ms: before (one flat office, bench/RESULTS.md issue 8) / after (this run, the "
              "organisation's shape)")
        print(f"  {'':<36}{'target':>10}{'before':>16}{'after':>10}")
        for label, (target, before) in BEFORE.items():
            if label in table[100]:
                after = table[100][label][1]
                print(f"  {label:<36}{target:>10}{before:>16}{after:10.1f}")
    for label, rows in plans:
        print(f"\nplan: {label}")
        for row in rows:
            print("    " + row)


# the province's p95 in the flat shape (bench/RESULTS.md, issue 8: its runs' range); a county's or
# a city's reader then read the whole province (one office)
BEFORE = {
    "inbox page, county reviewer": ("50", "12.7–24.2"),
    "inbox page, city reviewer": ("50", "12.7–24.2"),
    "inbox, 500 rows, county reviewer": ("–", "143–218"),
    "unit figures (API, county's units)": ("20", "9.9–16.4"),
    "超编 units, one county": ("200", "426–574"),
    "自然减员 12 months, one county": ("200", "289"),
    "statistics roll-up, city": ("1000", "–"),
    "statistics roll-up, city, rpc 1.1": ("1000", "–"),
    "超编 units, whole ledger": ("500", "426–574"),
    "自然减员 12 months, whole ledger": ("500", "289"),
    "roster .xlsx, one unit": ("–", "21.0–22.0"),
    "notice PDF, first download": ("–", "425–582"),
    "notice PDF, stored": ("–", "13.2–24.2"),
}


if __name__ == "__main__":
    main()
