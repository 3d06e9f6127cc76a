"""The platform's validator over every diagram in ../shared/corpus/bpmn (diagrams nobody on this
project wrote): each is accepted or refused with findings that name an element of the file,
never a crash; whatever the engine can parse also runs, under the sandbox, until it waits or
ends, or stops with an engine error."""
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from bianzhi.engine import adapter
from bianzhi.processes import drafts
from bianzhi.processes import operations as processes

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "bpmn"


def corpus_files():
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the corpus is missing: {CORPUS}")
        pytest.skip(f"the corpus is not beside this clone: {CORPUS}")
    files = sorted(CORPUS.glob("*.bpmn"))
    assert files, f"no .bpmn files in {CORPUS}"
    return files


def dmns_beside(path, xml):
    wanted = set(adapter.decision_refs(xml)) if xml.lstrip().startswith("<") else set()
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(path.parent.glob("*.dmn"))
            if wanted & set(adapter.decision_ids(p.read_text(encoding="utf-8")))}


def trial_run(parsed):
    """Start the diagram in the sandboxed engine and run it until it waits (a human task, a
    timer) or ends. Only an EngineError may stop it."""
    try:
        run = adapter.Run.start(parsed, lambda element, data: None)
    except adapter.EngineError as exc:
        return f"engine error: {exc.message}"
    if run.completed:
        return "ended"
    if run.human_tasks():
        return "at " + ", ".join(t.element.id for t in run.human_tasks())
    return "waiting"


def test_every_corpus_diagram_is_accepted_or_refused_with_element_named_findings(ctx, capsys):
    results, runs = {}, {}
    for path in corpus_files():
        xml = path.read_text(encoding="utf-8")
        findings, parsed = processes.validate(xml, drafts.forms_for(xml, {}), dmns_beside(path, xml))
        results[path.name] = findings
        for finding in findings:
            assert finding.element and finding.message, (path.name, finding)
            assert re.search(r"[\u4e00-\u9fff]", finding.message), (path.name, finding)
            # named by an element of this file (or the document itself)
            assert finding.element == "definitions" or f'"{finding.element}"' in xml \
                or f">{finding.element}<" in xml, (path.name, finding)
        try:
            parsed = parsed or adapter.parse(xml, tuple(dmns_beside(path, xml).values()))
        except adapter.EngineError:
            continue
        runs[path.name] = trial_run(parsed)
        if not findings:
            assert runs[path.name] == "ended" or runs[path.name].startswith("at "), runs[path.name]
    accepted = [name for name, findings in results.items() if not findings]
    refused = {name: findings for name, findings in results.items() if findings}
    reasons = Counter(re.sub(r"「[^」]*」|（[^）]*）|\S+\.json|\w+_\w+", "…", f.message).split("；")[0]
                      for findings in refused.values() for f in findings)
    with capsys.disabled():
        print(f"\ncorpus: {len(results)} diagrams, {len(accepted)} accepted, {len(refused)} refused")
        for name, findings in refused.items():
            print(f"  refused {name}: {findings[0]}" + (f" (+{len(findings) - 1})" if len(findings) > 1 else ""))
        for name in accepted:
            print(f"  accepted {name}: {runs.get(name)}")
        print("  engine trial runs: " + ", ".join(f"{n.split('__')[-1]} → {r}" for n, r in runs.items()))
        print("  most common reasons: " + "；".join(f"{r} ×{n}" for r, n in reasons.most_common(6)))
    assert len(results) == len(accepted) + len(refused)


def test_a_foreign_diagram_fixed_as_its_findings_say_is_accepted_and_runs(ctx):
    """camunda_no_form (Camunda Modeler) is refused for its lane and form; put the task in the
    unit's lane with a form, as the findings ask, and it deploys and runs to that task."""
    path = CORPUS / "spiffworkflow-tests__camunda_no_form.bpmn"
    if not path.is_file():
        corpus_files()
        pytest.skip(f"{path.name} is not in the corpus")
    xml = path.read_text(encoding="utf-8")
    findings, _ = processes.validate(xml, {})
    assert {f.element for f in findings} == {"Task_Not_A_Darn_Thing"}
    fixed = xml.replace('<bpmn:process id="no_form" isExecutable="true">',
                        '<bpmn:process id="no_form" isExecutable="true"><bpmn:laneSet id="LaneSet_1">'
                        '<bpmn:lane id="Lane_unit" name="单位经办人"><bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>'
                        '<bpmn:flowNodeRef>Task_Not_A_Darn_Thing</bpmn:flowNodeRef>'
                        '<bpmn:flowNodeRef>EndEvent_08turz3</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')
    fixed = fixed.replace('<bpmn:userTask id="Task_Not_A_Darn_Thing" name="Empty User Task">',
                          '<bpmn:userTask id="Task_Not_A_Darn_Thing" name="Empty User Task" '
                          'camunda:formKey="vacancy_use_apply">')
    forms = drafts.forms_for(fixed, {})
    assert processes.validate(fixed, forms)[0] == []
    version, created = processes.deploy(fixed, forms, comment="corpus: camunda_no_form, fixed")
    assert created and version.key == "no_form"
    assert trial_run(processes.parsed_version(version)) == "at Task_Not_A_Darn_Thing"
