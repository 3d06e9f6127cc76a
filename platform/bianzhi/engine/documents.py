"""Reading BPMN and DMN documents as XML (lxml only, no engine): the ids, references and
expressions the validator checks before a diagram is handed to the engine. Entities and
network access are off: a diagram is untrusted input."""
from lxml import etree


def read_xml(text):
    return etree.fromstring(text.encode() if isinstance(text, str) else text,
                            parser=etree.XMLParser(resolve_entities=False, no_network=True))


def decision_ids(dmn_xml):
    """The decision ids a DMN document defines."""
    root = read_xml(dmn_xml)
    return [el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}decision")]


def decision_refs(bpmn_xml):
    """The decision ids a BPMN document's business rule tasks call."""
    root = read_xml(bpmn_xml)
    attr = "{http://camunda.org/schema/1.0/bpmn}decisionRef"
    return sorted({el.get(attr) for el in root.iter() if isinstance(el.tag, str) and el.get(attr)})


def dmn_expressions(dmn_xml):
    """Every expression in a decision table, as (element id, text, is_input_entry). An input
    entry may be a unary test the engine completes with its input (`> 5`, `? < 10`)."""
    root = read_xml(dmn_xml)
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = el.tag.rsplit("}", 1)[-1]
        if local in ("inputEntry", "outputEntry", "inputExpression"):
            text = "".join(t.text or "" for t in el if isinstance(t.tag, str) and t.tag.endswith("}text"))
            if text.strip() and text.strip() != "-":
                found.append((el.get("id") or local, text.strip(), local == "inputEntry"))
    return found


_BPMN = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def expressions(bpmn_xml):
    """Everything in a document the engine evaluates as Python, as (element id, text, kind):
    kind is `condition` (sequence flows), `script` (script tasks) or, for timer events,
    `timeDuration`, `timeDate` or `timeCycle` (an expression yielding ISO 8601 text)."""
    root = read_xml(bpmn_xml)
    found = []
    for flow in root.iterfind(".//bpmn:sequenceFlow", _BPMN):
        for cond in flow.iterfind("bpmn:conditionExpression", _BPMN):
            found.append((flow.get("id"), (cond.text or "").strip(), "condition"))
    for script_task in root.iterfind(".//bpmn:scriptTask", _BPMN):
        for script in script_task.iterfind("bpmn:script", _BPMN):
            found.append((script_task.get("id"), script.text or "", "script"))
    for timer in root.iterfind(".//bpmn:timerEventDefinition", _BPMN):
        event = timer.getparent()
        for child in timer:
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] in ("timeDuration", "timeDate", "timeCycle"):
                found.append((event.get("id"), (child.text or "").strip(), child.tag.rsplit("}", 1)[-1]))
    return found


def conditions(bpmn_xml):
    """Gateway conditions and scripts, as (element id, text, is_script)."""
    return [(el, text, kind == "script") for el, text, kind in expressions(bpmn_xml) if kind in ("condition", "script")]


def sequence_flows(bpmn_xml):
    """{(source id, target id): [sequence flow ids]} of a document."""
    flows = {}
    for flow in read_xml(bpmn_xml).iterfind(".//bpmn:sequenceFlow", _BPMN):
        flows.setdefault((flow.get("sourceRef"), flow.get("targetRef")), []).append(flow.get("id"))
    return flows


def decision_tasks(bpmn_xml):
    """The business rule tasks of a document, as (element id, decision id it calls)."""
    attr = "{http://camunda.org/schema/1.0/bpmn}decisionRef"
    return [(el.get("id"), el.get(attr)) for el in read_xml(bpmn_xml).iter()
            if isinstance(el.tag, str) and el.get(attr)]


def flow_graph(bpmn_xml, process_id):
    """The sequence-flow graph of one process: (start event ids, {element id: [targets]},
    {activity id: [boundary event ids attached to it]})."""
    process = next((p for p in read_xml(bpmn_xml).iterfind(".//bpmn:process", _BPMN) if p.get("id") == process_id),
                   None)
    if process is None:
        return [], {}, {}
    starts = [el.get("id") for el in process.iterfind(".//bpmn:startEvent", _BPMN)]
    successors, boundaries = {}, {}
    for flow in process.iterfind(".//bpmn:sequenceFlow", _BPMN):
        successors.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    for event in process.iterfind(".//bpmn:boundaryEvent", _BPMN):
        boundaries.setdefault(event.get("attachedToRef"), []).append(event.get("id"))
    return starts, successors, boundaries
