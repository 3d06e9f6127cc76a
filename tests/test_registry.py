"""Registration is explicit (bianzhi.registry.register_domain), not a side effect of which
modules happen to be imported: in a fresh interpreter that imports no view and registers no
blueprint, every rule and operation the diagrams in bpmn/ name is known, every diagram
validates, the signals have their listeners and the worker knows every job kind."""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path
from flask import Flask
from bianzhi import config
from bianzhi.registry import register_domain

register_domain()
register_domain()  # idempotent
app = Flask("bianzhi", instance_path=tempfile.mkdtemp())
config.load(app, {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
from bianzhi.processes.registry import OPERATIONS, RULES, TITLES
from bianzhi.cases.signals import milestone_reached, tasks_synced
from bianzhi.processes.cli import check_file
from bianzhi.jobs import HANDLERS
with app.app_context():
    findings = {p.name: check_file(str(p)) for p in sorted(Path(sys.argv[1]).glob("*.bpmn"))}
print(json.dumps({
    "rules": sorted(RULES), "operations": sorted(OPERATIONS), "titles": sorted(TITLES),
    "findings": findings, "jobs": sorted(HANDLERS),
    "tasks_synced": sorted(f"{r.__module__}.{r.__name__}" for r in tasks_synced.receivers_for(None)),
    "milestone_reached": sorted(f"{r.__module__}.{r.__name__}" for r in milestone_reached.receivers_for(None)),
    "blueprints": sorted(m for m in sys.modules if m.startswith("bianzhi") and
                         (m.endswith("views") or ".api." in m or m.endswith(".api"))),
}, ensure_ascii=False))
"""


def _fresh():
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "bpmn")], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "platform"), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_domain_registers_without_the_web_app():
    got = _fresh()
    assert got["blueprints"] == []  # no view or API module was needed
    named = {"rule": set(), "operation": set()}
    for path in (ROOT / "bpmn").glob("*.bpmn"):
        for kind, value in re.findall(r'camunda:property name="(rule|operation)" value="([^"]+)"', path.read_text()):
            named[kind].add(value)
    assert "annual_review_check" in got["rules"]
    assert named["rule"] <= set(got["rules"]) and named["operation"] <= set(got["operations"])
    assert {"annual_review", "staff_exit", "midlevel_post", "establishment_adjust"} <= set(got["titles"])
    assert got["findings"] and all(lines == [] for lines in got["findings"].values()), got["findings"]
    assert got["tasks_synced"] == ["bianzhi.inbox.deadlines.on_tasks_synced",
                                   "bianzhi.statistics.monitoring.log_steps"]
    assert got["milestone_reached"] == ["bianzhi.notices.operations.on_milestone"]
    assert got["jobs"] == ["escalate", "mail", "notice_pdf", "remind", "roster_import", "timer"]
