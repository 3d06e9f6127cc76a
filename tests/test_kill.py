"""A web process killed (SIGKILL) in the middle of task completions leaves every case either
before or after its step, never between; the audit chain stays whole."""
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from bianzhi.audit.operations import verify
from bianzhi.cases.models import Case, CaseStep, OpenTask
from bianzhi.engine import adapter
from bianzhi.extensions import db
from bianzhi.processes import operations as processes
from tests.conftest import PASSWORD
from tests.fixtures.cases import start

# a server subprocess reads and writes the database the test committed
pytestmark = pytest.mark.commits

SERVER = """
import sys
from werkzeug.serving import make_server
from bianzhi import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "TESTING": True})
make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True).serve_forever()
"""


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port, path, body=None, token=None, timeout=10):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _serve(app, port):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, app.config["SQLALCHEMY_DATABASE_URI"], str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            _call(port, "/api/v1/openapi.json", timeout=1)
            return proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _consistent(case):
    """The engine's ready tasks, the open-task rows and the recorded steps agree."""
    run = adapter.Run.load(processes.parsed_version(case.version), case.workflow_json)
    ready = {t.id for t in run.human_tasks()}
    rows = set(db.session.scalars(select(OpenTask.id).where(OpenTask.case_id == case.id)))
    steps = db.session.scalar(select(func.count()).select_from(CaseStep).where(CaseStep.case_id == case.id))
    at_review = [t.element.id for t in run.human_tasks()] == ["Task_review"]
    return ready == rows and steps == (1 if at_review else 2)


def test_sigkill_mid_completion_leaves_no_half_step(app, api, ctx):
    clerk = api("clerk1")
    ids = [start(clerk, count=1)["id"] for _ in range(40)]
    db.session.remove()
    port = _port()
    proc = _serve(app, port)
    token = _call(port, "/api/v1/tokens", {"username": "reviewer1", "password": PASSWORD})["token"]
    tasks = [t["id"] for t in _call(port, "/api/v1/tasks", token=token)]
    done = []

    def hammer():
        for task in tasks:
            try:
                _call(port, f"/api/v1/tasks/{task}/complete", {"data": {"decision": "approve", "opinion": "同意"}},
                      token=token)
                done.append(task)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, http.client.HTTPException):
                return  # the kill landed, possibly while the answer was being read (IncompleteRead)

    worker = threading.Thread(target=hammer)
    worker.start()
    while not done:  # let some completions land, then kill somewhere in the middle
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.1))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    worker.join(30)

    db.session.remove()
    for case in db.session.scalars(select(Case).where(Case.id.in_(ids))):
        assert _consistent(case), case.number
    assert verify().ok
    assert 0 < len(done) < len(tasks)  # the kill really landed mid-run
    db.session.remove()  # release this test's read (on SQLite, its lock) before the restart

    # after a restart the remaining steps complete normally
    proc = _serve(app, port)
    try:
        token = _call(port, "/api/v1/tokens", {"username": "reviewer1", "password": PASSWORD})["token"]
        for task in _call(port, "/api/v1/tasks", token=token):
            _call(port, f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}, token=token)
    finally:
        proc.kill()
        proc.wait()
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(OpenTask).where(
        OpenTask.case_id.in_(ids), OpenTask.bpmn_id == "Task_leader")) == len(ids)
