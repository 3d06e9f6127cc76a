"""Fixtures: one database per run (SQLite file, or PostgreSQL from DATABASE_URL), schema built
by the migrations, and before each test the tables emptied and the demo district reloaded."""
import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from bianzhi import create_app
from bianzhi.audit.operations import forget_head
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
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


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
def fresh_db(app):
    with app.app_context():
        db.session.remove()
        reset_database()
        db.session.remove()
    yield


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
