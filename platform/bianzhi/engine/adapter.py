"""The one module that owns SpiffWorkflow: parse, start, load, run, complete, dump.

Nothing else in Bianzhi imports SpiffWorkflow. Callers get plain values (`HumanTask`,
`Step`) and pass plain callbacks; a failing callback aborts the step and, because the
caller then rolls back its transaction, nothing is half-written.
"""
import ast
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (DurationTimerEventDefinition,
                                                              TimeDateEventDefinition, TimerEventDefinition)
from SpiffWorkflow.bpmn.specs.defaults import (BoundaryEvent, EndEvent, IntermediateCatchEvent,
                                               IntermediateThrowEvent, ServiceTask, StartEvent)
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (CamundaBoundaryEventParser, CamundaEndEventParser,
                                                        CamundaIntermediateCatchEventParser,
                                                        CamundaIntermediateThrowEventParser,
                                                        CamundaStartEventParser)
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from .documents import (conditions, decision_ids, decision_refs, decision_tasks, dmn_expressions,  # noqa: F401
                        expressions, flow_graph, read_xml as _xml, sequence_flows)  # re-exported: callers use adapter.*
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
_config[PlatformServiceTask] = BpmnTaskSpecConverter  # specs are compared when cases migrate
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


@dataclass(frozen=True)
class WaitingTimer:
    """A timer event the case waits on. `duration` (a timedelta, for a timeDuration such as
    "P10D") or `at` (a naive UTC datetime, for a timeDate) is what the diagram's expression
    says; the platform decides when it fires (e.g. in working days) and calls fire_timer."""
    id: str
    element: Element
    duration: timedelta | None
    at: datetime | None


# Timers wait for the platform: the engine's own clock (datetime.now, calendar days) never fires
# them. A waiting timer's fire time is set to this, and fire_timer() marks it fired.
_PLATFORM_DRIVEN = "9999-12-31T00:00:00+00:00"


def _timer_value(task):
    """The diagram's timer expression, evaluated in the task's data by the sandboxed engine."""
    definition = task.task_spec.event_definition
    value = task.workflow.script_engine.evaluate(task, definition.expression)
    if isinstance(definition, DurationTimerEventDefinition):
        parts = TimerEventDefinition.parse_iso_duration(str(value))
        return TimerEventDefinition.get_timedelta_from_start(parts), None
    at = TimerEventDefinition.get_datetime(str(value))
    return None, at.replace(tzinfo=None)


def duration_of(expression):
    """An ISO 8601 duration ("P10D", "PT2H") as a timedelta; ValueError when it is none."""
    try:
        return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(expression))
    except Exception:  # the engine raises a bare Exception for a malformed duration
        raise ValueError(f"不是合法的 ISO 8601 时长：{expression}") from None


@dataclass
class Parsed:
    process_id: str
    name: str
    spec: object
    subprocess_specs: dict
    elements: dict  # bpmn id -> Element

    @property
    def start_properties(self):
        """The camunda:properties of the (first) start event: number_prefix, started_by …"""
        for el in self.elements.values():
            if el.kind == "startEvent" and el.properties:
                return el.properties
        return {}

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
    except EngineError:
        raise
    except Exception as exc:  # a foreign diagram the parser trips over: a finding, never a crash
        raise EngineError(f"无法解析流程（{type(exc).__name__}：{exc}）") from None
    elements = {}
    for ts in spec.task_specs.values():
        if getattr(ts, "bpmn_id", None):
            elements[ts.bpmn_id] = _element(ts)
    return Parsed(process_id, spec.description or process_id, spec, subs, elements)


def timer_problem(kind, expression):
    """For a timer whose expression is a constant string: why the engine could not read it
    (None when it can, or when the value is only known at run time)."""
    try:
        value = ast.literal_eval(expression)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, str):
        return "定时表达式应给出 ISO 8601 文本，例如 \"P5D\"（带引号）"
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeDate":
            TimerEventDefinition.get_datetime(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - any parse failure is the same finding
        example = {"timeDuration": "P5D", "timeDate": "2026-01-01T09:00:00+08:00"}.get(kind, "R3/PT24H")
        return f"定时值「{value}」不是合法的 ISO 8601 {kind}，例如 \"{example}\""
    return None


_CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_REACHED = _CURRENT | TaskState.COMPLETED | TaskState.ERROR


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

    def _timer_tasks(self):
        return [t for t in self.wf.get_tasks(state=TaskState.WAITING)
                if isinstance(getattr(t.task_spec, "event_definition", None),
                              (DurationTimerEventDefinition, TimeDateEventDefinition))]

    def waiting_timers(self):
        found = []
        for task in self._timer_tasks():
            try:
                duration, at = _timer_value(task)
            except Exception as exc:  # a diagram's expression: report, never crash the caller
                raise EngineError(f"定时器表达式无效：{exc}", element=task.task_spec.bpmn_id) from None
            found.append(WaitingTimer(str(task.id), _element(task.task_spec), duration, at))
        return found

    def fire_timer(self, timer_id, on_step):
        """Pass a waiting timer event now, and run the engine on from it."""
        task = next((t for t in self._timer_tasks() if str(t.id) == str(timer_id)), None)
        if task is None:
            raise EngineError("定时器已不在等待中")
        task._set_internal_data(event_fired=True)
        try:
            self.wf.refresh_timers()
        except SpiffWorkflowException as exc:
            raise EngineError(f"流程执行出错：{exc}", element=task.task_spec.bpmn_id) from None
        self._advance(on_step)

    def cancel(self):
        """End the instance where it stands (a withdrawn case)."""
        self.wf.cancel()

    def marks(self, flows):
        """Where the instance stands, for drawing it on its diagram: (completed element ids,
        current element ids (ready or waiting), sequence flow ids taken). `flows` is
        sequence_flows() of the version's document. The engine keeps no record of flows, so a
        flow counts as taken when its target was reached and the nearest element above the
        target in the task tree is its source, completed."""
        completed, current, taken = {}, {}, {}
        for task in self.wf.get_tasks(skip_subprocesses=True):
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id is None or not task.state & _REACHED:
                continue
            if task.state == TaskState.COMPLETED:
                completed[bpmn_id] = True
            elif task.state & _CURRENT:
                current[bpmn_id] = True
            source = task.parent
            while source is not None and getattr(source.task_spec, "bpmn_id", None) is None:
                source = source.parent
            if source is not None and source.state == TaskState.COMPLETED:
                taken.update(dict.fromkeys(flows.get((source.task_spec.bpmn_id, bpmn_id), [])))
        return list(completed), list(current), list(taken)

    def migration_problems(self, new):
        """Why this instance cannot move to the `new` Parsed version; empty when it can. Its
        current steps must exist in the new version as the same kind of element, and every
        step it has passed must still exist (the engine maps its history by element id).
        A trial move on a copy must load back and must not run any automatic step."""
        if self.wf.subprocesses:
            return ["案件含子流程，暂不支持迁移"]
        problems = []
        for task in self.wf.get_tasks(skip_subprocesses=True, state=_CURRENT):
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) is None:
                continue
            old, target = _element(spec), new.elements.get(spec.bpmn_id)
            if target is None:
                problems.append(f"当前环节「{old.name}」（{old.id}）在新版本中不存在")
            elif target.kind != old.kind:
                problems.append(f"当前环节「{old.name}」（{old.id}）在新版本中由 {old.kind} 变为 {target.kind}")
        if problems:
            return problems
        try:
            diff, _subs = diff_workflow(_serializer.registry, self.wf, new.spec, new.subprocess_specs)
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            return [f"无法比较两个版本（{type(exc).__name__}）"]
        for task in diff.removed:
            if task.state & (_REACHED | TaskState.FUTURE):
                spec = task.task_spec
                name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name
                problems.append(f"已办环节「{name}」在新版本中已删除，案件的办理记录无法对应")
        if problems:
            return list(dict.fromkeys(problems))
        ran = []
        try:
            trial = Run.load(self.parsed, self.dump())
            trial.migrate(new, lambda element, data: ran.append(element.name))
            Run.load(new, trial.dump()).human_tasks()
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            return [f"试迁移失败（{getattr(exc, 'message', None) or type(exc).__name__}）"]
        if ran:
            return [f"迁移后将自动执行「{'、'.join(ran)}」，请待案件到达人工环节后再迁移"]
        return []

    def migrate(self, new, on_step):
        """Move this instance onto the `new` Parsed version (check migration_problems first):
        tasks keep their ids, ready and waiting ones are re-predicted from the new diagram."""
        diff, _subs = diff_workflow(_serializer.registry, self.wf, new.spec, new.subprocess_specs)
        migrate_workflow(diff, self.wf, new.spec)
        self.wf.subprocess_specs = new.subprocess_specs
        self.parsed = new
        self._advance(on_step)

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
        except Exception as exc:  # a diagram's expression failing outside the engine's wrapping
            raise EngineError(f"流程执行出错：{type(exc).__name__}：{exc}", element=task.task_spec.bpmn_id) from None
        self._advance(on_step)

    def _advance(self, on_step):
        running, failed = [], []

        def will_complete(task):
            running[:] = [task]
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) is None:
                return
            try:
                updates = on_step(_element(spec), dict(task.data))
            except Exception as exc:
                failed.append(exc)  # the platform's own refusal: passed on as it is
                raise
            if updates:
                task.set_data(**updates)
        try:
            self.wf.do_engine_steps(will_complete_task=will_complete)
        except SpiffWorkflowException as exc:
            element = getattr(getattr(exc, "task_spec", None), "bpmn_id", None)
            cause = exc.__cause__ or exc
            raise EngineError(f"流程执行出错：{cause}", element=element) from None
        except Exception as exc:
            if failed and exc is failed[-1]:
                raise
            # an expression evaluated outside the engine's own error wrapping (e.g. a message
            # correlation): still an engine error naming the element, never a raw exception
            element = getattr(running[0].task_spec, "bpmn_id", None) if running else None
            raise EngineError(f"流程执行出错：{type(exc).__name__}：{exc}", element=element) from None
        for task in self._timer_tasks():
            if not task._get_internal_data("event_fired", False):
                task._set_internal_data(event_value=_PLATFORM_DRIVEN)
