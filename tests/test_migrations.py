"""The schema is released: each revision upgrades a populated database in place. A database of
its own (SQLite file, or a scratch PostgreSQL database beside DATABASE_URL's) gets the demo
district with cases in every state at the newest revision, is taken down to each earlier revision
and back up, and must come back with the same figures, cases and open tasks."""
import os

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bianzhi import create_app
from bianzhi.cases.models import Case, OpenTask
from bianzhi.demo import load_demo
from bianzhi.extensions import db, migrate
from bianzhi.ledger import operations as ledger
from bianzhi.ledger.models import Person, Unit



@pytest.fixture
def scratch_url(tmp_path):
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield "sqlite:///" + str(tmp_path / "upgrade.sqlite3")
        return
    parsed = make_url(url)
    name = f"{parsed.database}_upgrade"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield parsed.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def snapshot():
    try:
        return _snapshot()
    finally:
        db.session.remove()  # no transaction left open while alembic works


def _snapshot():
    units = db.session.scalars(select(Unit).order_by(Unit.code)).all()
    return {
        "figures": {u.code: ledger.figures(u) for u in units},
        "people": db.session.scalar(select(func.count()).select_from(Person)),
        "cases": db.session.execute(select(Case.number, Case.state).order_by(Case.number)).all(),
        "open_tasks": db.session.execute(select(OpenTask.case_id, OpenTask.name).order_by(OpenTask.id)).all(),
    }


def assert_flat_office_inbox(older):
    """A database from before the organisation (7c3a9e1f2b64) comes up as one office with one
    section holding every reviewer and led by every leader: each user's inbox is what the flat
    office gave them — their roles' open tasks (a clerk: their unit's), unclaimed or claimed by
    them, the separation of duties aside."""
    from bianzhi.accounts.models import User

    try:
        users = db.session.scalars(select(User).where(User.active.is_(True))).all()
        tasks = db.session.scalars(select(OpenTask)).all()
        assert tasks
        checked = 0
        for user in users:
            listed = set(db.session.scalars(OpenTask.actionable(user).with_only_columns(OpenTask.id)))
            flat = {t.id for t in tasks if user.has_role(t.role)
                    and (t.role != "unit_clerk" or user.unit_id == t.case.unit_id)
                    and t.assignee_id in (None, user.id) and t.separated(user)}
            assert listed == flat, (older, user.username)
            checked += len(flat)
        assert checked >= len(tasks)
    finally:
        db.session.remove()


def test_every_revision_upgrades_a_populated_database(scratch_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "TESTING": True,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SERVER_NAME": "localhost"})
    with app.app_context():
        upgrade()
        load_demo("pw123456", with_cases=True)
        db.session.commit()
        before = snapshot()
        assert before["cases"] and before["open_tasks"]
        db.session.remove()
        script = ScriptDirectory.from_config(migrate.get_config())
        head = script.get_current_head()
        revisions = [r.revision for r in script.walk_revisions()]  # newest first
        for older in revisions[1:]:  # every revision below the head, down to the initial schema
            downgrade(revision=older)
            upgrade()
            assert snapshot() == before, f"upgrade from {older} changed the data"
            assert_flat_office_inbox(older)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        db.session.remove()
        db.engine.dispose()
