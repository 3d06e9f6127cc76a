"""Where a case stands, drawn on its version's diagram: the completed steps, the current ones
and the sequence flows taken (the engine adapter reads them from the case's task tree)."""
from ..cases import operations as cases
from ..engine import adapter
from . import operations as processes

_flows = {}  # (version id, content hash) -> sequence_flows(); a deployed version never changes


def _flows_of(version):
    key = (version.id, version.content_hash)
    if key not in _flows:
        _flows[key] = adapter.sequence_flows(version.bpmn_xml)
    return _flows[key]


def case_diagram(user, case_id):
    """The diagram JSON of a case the user may see (404 otherwise)."""
    case = cases.get_case(user, case_id)
    version = case.version
    run = adapter.Run.load(processes.parsed_version(version), case.workflow_json)
    completed, current, flows = run.marks(_flows_of(version))
    return {"case": case.number, "key": version.key, "version": version.version, "bpmn": version.bpmn_xml,
            "completed": completed, "current": current, "flows": flows}
