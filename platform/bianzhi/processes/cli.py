"""`flask --app bianzhi validate FILE...`: the platform's validator from the command line.

Each .bpmn file is checked with the decision tables beside it that it calls and the forms it
names (from the configured forms/ folder); a missing form is a finding. One line per finding,
`FILE: ELEMENT_ID（name）：message`, or `FILE: 通过`; exit status 1 when any file is refused.
Never a traceback: whatever a file trips over is reported as a finding."""
from pathlib import Path

import click

from ..engine import adapter
from . import drafts
from . import operations as processes


def _dmns_beside(path, bpmn_xml):
    wanted = set(adapter.decision_refs(bpmn_xml))
    found = {}
    for dmn in sorted(path.parent.glob("*.dmn")) if wanted else []:
        text = dmn.read_text(encoding="utf-8-sig")
        try:
            defines = set(adapter.decision_ids(text))
        except Exception:  # noqa: BLE001 - a broken DMN beside it is not this file's concern
            continue
        if wanted & defines:
            found[dmn.name] = text
    return found


def check_file(name):
    """The findings for one file, as text lines (empty when it passes)."""
    path = Path(name)
    if not path.is_file():
        return ["definitions：文件不存在或不是普通文件"]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"definitions：无法读取（{type(exc).__name__}），文件应为 UTF-8 文本"]
    try:
        dmns = _dmns_beside(path, text)
    except Exception:  # noqa: BLE001 - not XML: validate() says so
        dmns = {}
    findings, _parsed = processes.validate(text, drafts.forms_for(text, {}), dmns)
    return [str(f) for f in findings]


def register(app):
    @app.cli.command("validate")
    @click.argument("files", nargs=-1, required=True, type=click.Path())
    def validate(files):
        """Validate BPMN files as a deploy would; exit 1 when any is refused."""
        refused = 0
        for name in files:
            if name.lower().endswith(".dmn"):
                click.echo(f"{name}: 决策表，随引用它的流程一起校验")
                continue
            try:
                lines = check_file(name)
            except Exception as exc:  # noqa: BLE001 - a finding, never a traceback
                lines = [f"definitions：无法校验（{type(exc).__name__}：{exc}）"]
            for line in lines:
                click.echo(f"{name}: {line}")
            if lines:
                refused += 1
            else:
                click.echo(f"{name}: 通过")
        if refused:
            click.get_current_context().exit(1)
