"""Benchmark helper: the SQL round trips of one review completion through the API.

Counts every statement the driver executes (SQLAlchemy `before_cursor_execute`) during
POST /api/v1/tasks/<id>/complete, and lists them with --list. Also counts for the case start
and the inbox first page (GET /api/v1/tasks).

Run:  .venv/bin/python bench/sql_trips.py [--list] [--pg URL]
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import task_completion as tc  # noqa: E402
from sqlalchemy import event  # noqa: E402


class Counter:
    def __init__(self, engine):
        self.statements = []
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split())[:160])

    def take(self):
        taken, self.statements = self.statements, []
        return taken


def count(app, tokens, runs=3):
    from bianzhi.extensions import db
    client = app.test_client()
    with app.app_context():
        counter = Counter(db.engine)
    task_ids = tc.review_tasks(client, tokens["clerk1"], runs + 1)
    counter.take()
    tc.post(client, "/api/v1/cases", {"process": "vacancy_use", "data": dict(tc.APPLICATION)}, tokens["clerk1"])
    start = counter.take()
    for task_id in task_ids[:-1]:  # warm caches (parsed spec, forms)
        tc.post(client, f"/api/v1/tasks/{task_id}/complete", {"data": tc.DECISION}, tokens["reviewer1"])
    counter.take()
    tc.post(client, f"/api/v1/tasks/{task_ids[-1]}/complete", {"data": tc.DECISION}, tokens["reviewer1"])
    complete = counter.take()
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {tokens['reviewer1']}"})
    assert response.status_code == 200, response.status_code
    inbox = counter.take()
    return {"start a case": start, "complete a review task": complete, "inbox first page": inbox}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="print every statement")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL URL (its public schema is dropped!)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bianzhi-bench-") as tmp:
        url = tc.prepare_postgres(args.pg) if args.pg else f"sqlite:///{tmp}/bench.sqlite3"
        app = tc.make_app(url)
        client = app.test_client()
        tokens = {u: tc.post(client, "/api/v1/tokens", {"username": u, "password": tc.PASSWORD})["token"]
                  for u in ("clerk1", "reviewer1")}
        results = count(app, tokens)
        with app.app_context():
            from bianzhi.extensions import db
            db.engine.dispose()
    print(f"SQL statements per request ({'PostgreSQL' if args.pg else 'SQLite'}):")
    for name, statements in results.items():
        print(f"  {name:28} {len(statements):4d}")
        if args.list:
            for s in statements:
                print(f"      {s}")


if __name__ == "__main__":
    main()
