"""Benchmark: the roster (人员花名册) exported to Excel and imported again, at district and
province size.

Builds N people on roll (default 18,000; also try 200,000) over N/36 units (500 for a district)
by bulk insert, then times what the commands do:

  export      reports.operations.write_roster(): the whole roster to .xlsx (exports.XlsxWriter,
              rows streamed from the database 1,000 at a time), as `flask export-roster FILE`
  check       reports.roster_import.walk(): every row read (reports.roster_file, openpyxl) and checked
              against the ledger, as the upload's preview and `import-roster --dry-run` do
  import      reports.roster_import.import_roster(): check + bulk insert of people and their
              chronicle entries + audit, committed once, as `flask import-roster FILE`; the
              people exported are deleted first so that the same file goes back in

Peak RSS is printed after each step (it only grows: what matters is that it does not grow with N).

Run:  .venv/bin/python bench/roster.py                       (SQLite, a fresh file under /tmp)
      .venv/bin/python bench/roster.py --people 200000
      .venv/bin/python bench/roster.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_import_bench
With --database-url the named PostgreSQL database is created if missing and its public schema is
DROPPED and rebuilt: never point it at a shared database (the names test and postgres are refused).
"""
import argparse
import logging
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))  # this checkout's code, whatever .venv points at

from sqlalchemy import delete, func, insert, select, text  # noqa: E402
from benchlib import prepare_postgres  # noqa: E402  (bench/ is the script's folder)

PASSWORD = "bench123"
BATCH = 5000
PER_UNIT = 36


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(db, people):
    """Units with a 事业编制 line and a department each, and `people` on roll, by bulk insert."""
    from bianzhi.ledger import idnumber
    from bianzhi.ledger.models import Department, Establishment, Person, Unit

    n_units = max(people // PER_UNIT, 1)
    db.session.execute(insert(Unit), [
        {"code": f"12330699U{i:06d}X", "name": f"测试事业单位{i:06d}", "kind": "事业单位", "level": "正科级",
         "funding": "全额", "system": "教育"} for i in range(n_units)])
    units = db.session.execute(select(Unit.id).where(Unit.code.like("12330699U%")).order_by(Unit.code)).scalars().all()
    db.session.execute(insert(Establishment), [{"unit_id": u, "category": "事业编制", "approved": PER_UNIT + 4}
                                               for u in units])
    db.session.execute(insert(Department), [{"unit_id": u, "name": "办公室"} for u in units])
    departments = dict(db.session.execute(select(Department.unit_id, Department.id)
                                          .where(Department.unit_id.in_(units))).all())
    rows = []
    for i in range(people):
        birth = date(1965, 1, 1) + timedelta(days=i // 400)  # 400 sequence numbers a day
        unit = units[i % len(units)]
        number = idnumber.make("330683", birth, 100 + i % 400 * 2)  # a region the demo does not use
        rows.append({"code": f"BZB{i:09d}", "name": f"职工{i}", "id_number": number,
                     "sex": "女", "birth_date": birth, "unit_id": unit, "work_unit_id": unit,  # even sequences: women
                     "category": "事业编制", "status": "on_roll", "entry_date": date(2008, 9, 1),
                     "education": "大学本科", "post": "专业技术人员", "department_id": departments[unit],
                     "details": {"ethnicity": "汉族", "political": "群众"}, "exit_late": False})
        if len(rows) == BATCH:
            db.session.execute(insert(Person), rows)
            rows = []
    if rows:
        db.session.execute(insert(Person), rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # planner statistics, as autovacuum would gather them
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return n_units


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=18000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (its schema is dropped)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="bench-roster-", dir="/tmp"))
    url = prepare_postgres(args.database_url) if args.database_url else f"sqlite:///{workdir}/bench.sqlite3"

    from flask_migrate import upgrade

    from bianzhi import create_app
    from bianzhi.demo import load_demo
    from bianzhi.extensions import db
    from bianzhi.ledger.models import ChronicleEntry, Person
    from bianzhi.reports import roster_import
    from bianzhi.reports.operations import write_roster

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade()
        load_demo(PASSWORD)
        db.session.commit()
        started = time.perf_counter()
        units = build(db, args.people)
        print(f"{db.engine.dialect.name}: {args.people:,} people over {units:,} units built in "
              f"{time.perf_counter() - started:.1f} s")
        total = db.session.scalar(select(func.count()).select_from(Person).where(Person.status == "on_roll"))

        started = time.perf_counter()
        out, rows = write_roster()
        path = workdir / "roster.xlsx"
        with out, open(path, "wb") as target:
            while chunk := out.read(1 << 20):
                target.write(chunk)
        db.session.rollback()
        export_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        print(f"export  {rows:>9,} rows  {export_s:7.1f} s  {rows / export_s:8,.0f} rows/s  "
              f"file {size_mb:.1f} MB  peak RSS {peak_mb():.0f} MB")
        assert rows == total

        content = path.read_bytes()
        started = time.perf_counter()
        outcome = roster_import.walk(content)
        db.session.rollback()
        check_s = time.perf_counter() - started
        print(f"check   {outcome.total:>9,} rows  {check_s:7.1f} s  {outcome.total / check_s:8,.0f} rows/s  "
              f"(all {outcome.skipped and len(outcome.skipped):,} 已在册)  peak RSS {peak_mb():.0f} MB")

        db.session.execute(delete(ChronicleEntry))
        db.session.execute(delete(Person))
        db.session.commit()
        started = time.perf_counter()
        outcome = roster_import.import_roster(None, content)
        db.session.commit()
        import_s = time.perf_counter() - started
        after = db.session.scalar(select(func.count()).select_from(Person).where(Person.status == "on_roll"))
        print(f"import  {outcome.valid:>9,} rows  {import_s:7.1f} s  {outcome.valid / import_s:8,.0f} rows/s  "
              f"refused {outcome.refused}  peak RSS {peak_mb():.0f} MB")
        assert after == total == outcome.valid, (after, total, outcome.valid)
    print(f"file kept: {path}")


if __name__ == "__main__":
    main()
