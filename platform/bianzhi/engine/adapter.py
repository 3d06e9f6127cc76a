"""The one module that owns SpiffWorkflow: parse, start, load, run, complete, dump.

Nothing else in Bianzhi imports SpiffWorkflow. Callers get plain values (`HumanTask`,
`Step`) and pass plain callbacks; a failing callback aborts the step and, because the
caller then rolls back its transaction, nothing is half-written.
"""
import json
from dataclasses import dataclass, field
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import (BoundaryEvent, EndEvent, IntermediateCatchEvent,
                                               IntermediateThrowEvent, ServiceTask, StartEvent)
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (CamundaBoundaryEventParser, CamundaEndEventParser,
                                                        CamundaIntermediateCatchEventParser,
                                                        CamundaIntermediateThrowEventParser,
                                                        CamundaStartEventParser)
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from .sandbox import script_engine


def _with_properties(parser_cls):
    """Events in the Camunda dialect keep no camunda:properties; ours need them
    (state, notice, materials), so read them the way task parsers do."""
    return type(parser_cls.__name__, (parser_cls,), {"parse_extensions": CamundaTaskParser.parse_extensions})


class PlatformServiceTask(ServiceTask):
    """A service task whose work (a registered ledger operation) is done by the platform in
    the step callback; the engine then simply moves on. The stock one waits forever."""

    def _execute(self, task):
        return True


class BianzhiParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = dict(CamundaParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES.update({
        full_tag("serviceTask"): (CamundaTaskParser, PlatformServiceTask),
        full_tag("startEvent"): (_with_properties(CamundaStartEventParser), StartEvent),
        full_tag("endEvent"): (_with_properties(CamundaEndEventParser), EndEvent),
        full_tag("intermediateThrowEvent"): (_with_properties(CamundaIntermediateThrowEventParser),
                                             IntermediateThrowEvent),
        full_tag("intermediateCatchEvent"): (_with_properties(CamundaIntermediateCatchEventParser),
                                             IntermediateCatchEvent),
        full_tag("boundaryEvent"): (_with_properties(CamundaBoundaryEventParser), BoundaryEvent),
    })


class _SpecByReference(BpmnWorkflowConverter):
    """Store a case without its spec: the spec lives once per deployed version."""

    def to_dict(self, workflow):
        dct = super().to_dict(workflow)
        dct["spec"] = None
        dct["subprocess_specs"] = {}
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        dct["spec"] = None
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(CAMUNDA_CONFIG)
_config[BpmnWorkflow] = _SpecByReference
_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))


class EngineError(Exception):
    """The engine refused: message in Chinese, element id when known."""

    def __init__(self, message, element=None):
        super().__init__(message)
        self.message = message
        self.element = element


@dataclass(frozen=True)
class Element:
    id: str
    name: str
    kind: str  # userTask, serviceTask, endEvent, ...
    lane: str | None
    form_key: str | None
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HumanTask:
    id: str
    element: Element
    data: dict


@dataclass
class Parsed:
    process_id: str
    name: str
    spec: object
    subprocess_specs: dict
    elements: dict  # bpmn id -> Element

    def first_user_task(self):
        """The first user task reached from the start, breadth first."""
        seen, queue = set(), [self.spec.start]
        while queue:
            spec = queue.pop(0)
            if spec.name in seen:
                continue
            seen.add(spec.name)
            element = self.elements.get(getattr(spec, "bpmn_id", None))
            if element is not None and element.kind == "userTask":
                return element
            queue.extend(spec.outputs)
        return None


_KINDS = {"UserTask": "userTask", "PlatformServiceTask": "serviceTask", "EndEvent": "endEvent",
          "StartEvent": "startEvent", "IntermediateThrowEvent": "intermediateThrowEvent",
          "IntermediateCatchEvent": "intermediateCatchEvent", "ExclusiveGateway": "exclusiveGateway",
          "ParallelGateway": "parallelGateway", "InclusiveGateway": "inclusiveGateway",
          "ScriptTask": "scriptTask", "BoundaryEvent": "boundaryEvent", "ManualTask": "manualTask",
          "NoneTask": "task", "BusinessRuleTask": "businessRuleTask", "CallActivity": "callActivity",
          "SubWorkflowTask": "subProcess", "TransactionSubprocess": "transaction",
          "EventBasedGateway": "eventBasedGateway"}


def _element(task_spec):
    form = getattr(task_spec, "form", None)
    return Element(
        id=task_spec.bpmn_id,
        name=task_spec.bpmn_name or task_spec.bpmn_id,
        kind=_KINDS.get(type(task_spec).__name__, type(task_spec).__name__),
        lane=task_spec.lane,
        form_key=getattr(form, "key", None) if form is not None else None,
        properties=dict(getattr(task_spec, "extensions", None) or {}),
    )


def _xml(text):
    return etree.fromstring(text.encode() if isinstance(text, str) else text,
                            parser=etree.XMLParser(resolve_entities=False, no_network=True))


def decision_ids(dmn_xml):
    """The decision ids a DMN document defines."""
    root = _xml(dmn_xml)
    return [el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}decision")]


def decision_refs(bpmn_xml):
    """The decision ids a BPMN document's business rule tasks call."""
    root = _xml(bpmn_xml)
    attr = "{http://camunda.org/schema/1.0/bpmn}decisionRef"
    return sorted({el.get(attr) for el in root.iter() if isinstance(el.tag, str) and el.get(attr)})


def dmn_expressions(dmn_xml):
    """Every expression in a decision table, as (element id, text, is_input_entry). An input
    entry may be a unary test the engine completes with its input (`> 5`, `? < 10`)."""
    root = _xml(dmn_xml)
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


def parse(bpmn_xml, dmn_xmls=()):
    """Parse one BPMN document with one executable process (and the decision tables it
    calls). Raises EngineError."""
    parser = BianzhiParser()
    try:
        root = _xml(bpmn_xml)
        parser.add_bpmn_xml(root, filename="diagram.bpmn")
        for i, dmn in enumerate(dmn_xmls):
            parser.add_dmn_xml(_xml(dmn), filename=f"decision{i}.dmn")
        ids = parser.get_process_ids()
        executable = [pid for pid in ids if parser.get_process_parser(pid).node.get("isExecutable", "true") != "false"] or ids
        if not executable:
            raise EngineError("文件中没有流程（bpmn:process）")
        process_id = executable[0]
        spec = parser.get_spec(process_id)
        subs = parser.get_subprocess_specs(process_id)
    except etree.XMLSyntaxError as exc:
        raise EngineError(f"不是合法的 XML：{exc.msg}（第 {exc.lineno} 行）") from None
    except ValidationException as exc:
        raise EngineError(f"BPMN 校验失败：{exc.args[0] if exc.args else exc}",
                          element=getattr(exc, "id", None)) from None
    except SpiffWorkflowException as exc:
        raise EngineError(f"无法解析流程：{exc}") from None
    elements = {}
    for ts in spec.task_specs.values():
        if getattr(ts, "bpmn_id", None):
            elements[ts.bpmn_id] = _element(ts)
    return Parsed(process_id, spec.description or process_id, spec, subs, elements)


def conditions(bpmn_xml):
    """Every gateway condition and script in a document, as (element id, text, is_script)."""
    root = _xml(bpmn_xml)
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    found = []
    for flow in root.iterfind(".//bpmn:sequenceFlow", ns):
        for cond in flow.iterfind("bpmn:conditionExpression", ns):
            found.append((flow.get("id"), (cond.text or "").strip(), False))
    for script_task in root.iterfind(".//bpmn:scriptTask", ns):
        for script in script_task.iterfind("bpmn:script", ns):
            found.append((script_task.get("id"), script.text or "", True))
    return found


class Run:
    """One workflow instance loaded for one transaction. Never share between threads."""

    def __init__(self, parsed, workflow):
        self.parsed = parsed
        self.wf = workflow

    @classmethod
    def start(cls, parsed, on_step):
        wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=script_engine())
        run = cls(parsed, wf)
        run._advance(on_step)
        return run

    @classmethod
    def load(cls, parsed, text):
        dct = json.loads(text)
        _serializer.migrate(dct)
        wf = _serializer.from_dict(dct, spec=parsed.spec, subprocess_specs=parsed.subprocess_specs)
        wf.script_engine = script_engine()  # a loaded workflow forgets it (ENGINE-NOTES trap 2)
        return cls(parsed, wf)

    def dump(self):
        return _serializer.serialize_json(self.wf)

    @property
    def completed(self):
        return self.wf.is_completed()

    @property
    def data(self):
        return dict(self.wf.data)

    def human_tasks(self):
        return [HumanTask(str(t.id), _element(t.task_spec), dict(t.data))
                for t in self.wf.get_tasks(state=TaskState.READY, manual=True)]

    def cancel(self):
        """End the instance where it stands (a withdrawn case)."""
        self.wf.cancel()

    def complete(self, task_id, data, on_step):
        try:
            task = self.wf.get_task_from_id(UUID(task_id))
        except (ValueError, WorkflowException, KeyError):
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise EngineError("该任务已办理或不存在")
        task.set_data(**data)
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise EngineError(f"流程执行出错：{exc}", element=task.task_spec.bpmn_id) from None
        self._advance(on_step)

    def _advance(self, on_step):
        def will_complete(task):
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) is None:
                return
            updates = on_step(_element(spec), dict(task.data))
            if updates:
                task.set_data(**updates)
        try:
            self.wf.do_engine_steps(will_complete_task=will_complete)
        except SpiffWorkflowException as exc:
            element = getattr(getattr(exc, "task_spec", None), "bpmn_id", None)
            cause = exc.__cause__ or exc
            raise EngineError(f"流程执行出错：{cause}", element=element) from None
