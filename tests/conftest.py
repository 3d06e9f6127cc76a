"""Fixtures: one database per run (SQLite file, or PostgreSQL from DATABASE_URL), schema built
by the migrations, the demo district loaded (and committed) once.

Each test runs inside one transaction that is rolled back afterwards: the test's connection
begins it, and every db.session of the test's app (the test's own, each request's, the CLI's,
the worker's) joins it with a SAVEPOINT, so the code's commit() and rollback() release or roll
back savepoints and nothing outlives the test. On SQLite the outer BEGIN is the app's BEGIN
IMMEDIATE: the test holds the write lock, which is why another connection (a thread, a
subprocess, db.engine.connect()) cannot write, or on SQLite even start a transaction, meanwhile.

Tests that need real commits carry `@pytest.mark.commits` (browser tests count as such): they
run as before, on the committed database with the tables emptied and the demo reloaded, and the
next rolled-back test finds the demo reloaded again."""
import atexit
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from flask import current_app, has_app_context
from sqlalchemy import text

from bianzhi import create_app
from bianzhi.audit.operations import forget_head, head_file
from bianzhi.demo import load_demo
from bianzhi.extensions import db

PASSWORD = "pw123456"
ARTIFACTS = Path(__file__).parent / "artifacts"
# the audit chain's key and head file for this run (the environment: app processes the tests
# start use them too), never the repository's instance/
_AUDIT_DIR = tempfile.mkdtemp(prefix="bianzhi-audit-")
atexit.register(shutil.rmtree, _AUDIT_DIR, True)
os.environ.setdefault("AUDIT_KEY", "test-audit-key-" + _AUDIT_DIR)
os.environ.setdefault("AUDIT_HEAD_FILE", os.path.join(_AUDIT_DIR, "audit.head"))


def _database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def _drop_everything():
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory), "TESTING": True,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SERVER_NAME": "localhost"})
    with app.app_context():
        _drop_everything()
        upgrade()
    _join_test_transactions()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


_JOINED = {}  # app -> (the connection whose transaction the test's sessions join, its thread)
_state = {"dirty": True}  # the committed database is not (or may not be) the demo as loaded


def _joined_get_bind(original):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and has_app_context():
            joined = _JOINED.get(current_app._get_current_object())
            if joined is not None:
                conn, thread = joined
                if threading.get_ident() != thread:
                    raise RuntimeError("a thread used the database of a rolled-back test: "
                                       "mark the test @pytest.mark.commits")
                return conn
        return original(self, mapper=mapper, clause=clause, bind=bind, **kwargs)
    return get_bind


def _join_test_transactions():
    """Every session made by db.session from now on uses the test's connection, when its app
    has one (other apps a test creates keep their own engines), with a savepoint of its own."""
    factory = db.session.session_factory
    if not getattr(factory.class_.get_bind, "joins_tests", False):
        factory.class_.get_bind = _joined_get_bind(factory.class_.get_bind)
        factory.class_.get_bind.joins_tests = True
    factory.configure(join_transaction_mode="create_savepoint")


def reset_database():
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())
    forget_head()  # the log was emptied on purpose: the demo's entries start a new head
    load_demo(PASSWORD)
    db.session.commit()


@pytest.fixture(autouse=True)
def fresh_db(request, app):
    if _state["dirty"]:
        with app.app_context():
            db.session.remove()
            reset_database()
            db.session.remove()
        _state["dirty"] = False
    if request.node.get_closest_marker("commits") or request.node.get_closest_marker("browser"):
        _state["dirty"] = True  # it commits: the next test reloads the demo
        yield
        return
    with app.app_context():
        conn = db.engine.connect()
        head = head_file()
    # the audit head file is written when a session commits, and here that commit is rolled back
    # with the rest of the test: put the file back as it was
    saved = head.read_bytes() if head.exists() else None
    outer = conn.begin()  # SQLite: BEGIN IMMEDIATE (extensions.configure_sqlite)
    _JOINED[app] = (conn, threading.get_ident())
    try:
        yield
    finally:
        del _JOINED[app]
        outer.rollback()
        conn.close()
        if saved is None:
            head.unlink(missing_ok=True)
        else:
            head.write_bytes(saved)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path):
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username, password=PASSWORD):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


class Api:
    """A bearer-token client for /api/v1."""

    def __init__(self, client, username, password=PASSWORD):
        self.client = client
        response = client.post("/api/v1/tokens", json={"username": username, "password": password})
        assert response.status_code == 201, response.json
        self.headers = {"Authorization": f"Bearer {response.json['token']}"}

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers=self.headers, **kw)


@pytest.fixture
def api(app):
    def make(username):
        return Api(app.test_client(), username)
    return make
