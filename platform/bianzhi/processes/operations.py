"""Deploying process versions from `bpmn/` and `forms/`, and finding the one to run."""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from ..accounts.models import ROLES, User, role_for_lane
from ..engine import adapter, sandbox
from ..errors import DefinitionError, NotFound
from ..extensions import db
from ..organisation import routing
from ..organisation.models import PartnerDepartment, Section
from . import forms as formlib
from . import lint
from .models import ProcessVersion
from .registry import OPERATIONS, RULES

STATES_FROM_EVENTS = {"approved", "rejected", "completed", "withdrawn"}  # withdrawn: 逾期未补正视为撤回


@dataclass(frozen=True)
class Finding:
    element: str
    name: str
    message: str

    def __str__(self):
        return f"{self.element}（{self.name}）：{self.message}" if self.name else f"{self.element}：{self.message}"


def _notice_template_exists(name):
    return (Path(current_app.config["TEMPLATES_FOLDER"]) / "notices" / f"{name}.html").is_file()


def validate(bpmn_xml, forms, dmns=None):
    """Every problem that stops this diagram from running on the platform, named by element.
    Returns (findings, parsed or None). Never raises: whatever a foreign diagram trips over
    becomes a finding."""
    try:
        return _validate(bpmn_xml, forms, dmns)
    except Exception as exc:  # noqa: BLE001 - a finding, never a traceback
        return [Finding("definitions", "", f"无法校验此文件（{type(exc).__name__}：{exc}）")], None


_EXPRESSION_LABELS = {"condition": "条件", "script": "脚本", "timeDuration": "定时表达式", "timeDate": "定时表达式",
                      "timeCycle": "定时表达式"}


def _validate(bpmn_xml, forms, dmns=None):
    if not isinstance(bpmn_xml, str) or not bpmn_xml.strip():
        return [Finding("definitions", "", "流程图为空")], None
    dmns = dmns or {}
    findings = []
    defined = set()
    for name, dmn in dmns.items():
        try:
            defined.update(adapter.decision_ids(dmn))
            expressions = adapter.dmn_expressions(dmn)
        except Exception as exc:  # lxml errors on a broken decision file
            findings.append(Finding(name, "", f"决策表不是合法的 DMN：{exc}"))
            continue
        for element_id, text, is_entry in expressions:
            why = sandbox.check(text)
            if why and is_entry:
                # SpiffWorkflow evaluates an entry that is no expression by itself as
                # `<input><entry>` (`> 5`), or with `?` standing for the input value
                completed = text.replace("?", "dmninputexpr") if "?" in text else "dmninputexpr " + text
                why = sandbox.check(completed) and why
            if why:
                findings.append(Finding(f"{name}#{element_id}", "", f"决策表单元格不被允许：{why}"))
    try:
        missing = [(task, ref) for task, ref in adapter.decision_tasks(bpmn_xml) if ref not in defined]
        names = lint.names(bpmn_xml)
    except Exception:
        missing, names = [], {}
    for task, ref in missing:  # named by the task that calls it: the table has no element in this file
        findings.append(Finding(task, names.get(task, ""),
                                f"找不到决策表 {ref}（camunda:decisionRef；应在 bpmn/ 下或流程图旁的 .dmn 文件中）"))
    findings.extend(Finding(*found) for found in lint.check(bpmn_xml))
    try:
        parsed = adapter.parse(bpmn_xml, tuple(dmns.values()))
    except adapter.EngineError as exc:
        if not findings:  # the element-named findings above explain a parse failure better
            findings.append(Finding(exc.element or "definitions", "", exc.message))
        return findings, None
    names = lint.names(bpmn_xml)
    for element_id, text, kind in adapter.expressions(bpmn_xml):
        why = sandbox.check(text, kind == "script") if text else f"{_EXPRESSION_LABELS[kind]}为空"
        if not why and kind.startswith("time"):
            why = adapter.timer_problem(kind, text)
        if why:
            findings.append(Finding(element_id, names.get(element_id, ""), f"{_EXPRESSION_LABELS[kind]}不被允许：{why}"))
    users = [e for e in parsed.elements.values() if e.kind == "userTask"]
    if not users:
        findings.append(Finding(parsed.process_id, parsed.name, "流程中没有用户任务"))
    for el in parsed.elements.values():
        props = el.properties
        if el.kind == "userTask":
            if role_for_lane(el.lane) is None:
                findings.append(Finding(el.id, el.name, f"所在泳道「{el.lane or '无'}」不对应任何角色；泳道名应为："
                                        + "、".join(label for label, _ in ROLES.values())))
            if not el.form_key:
                findings.append(Finding(el.id, el.name, "没有指定表单（camunda:formKey）"))
            elif not formlib.is_form_key(el.form_key):
                findings.append(Finding(el.id, el.name, "表单标识（camunda:formKey）只能由字母、数字和下划线组成（至多 64 个），"
                                        "是 forms/ 中表单文件的名称，不含路径和扩展名"))
            elif el.form_key not in forms:
                findings.append(Finding(el.id, el.name, f"表单 {el.form_key} 不存在（forms/{el.form_key}.json）"))
            if props.get("rule") and props["rule"] not in RULES:
                findings.append(Finding(el.id, el.name, f"未注册的校验规则 {props['rule']}；可用：{'、'.join(RULES)}"))
            for prop in ("deadline_days", "remind_workdays_before", "escalate_after_workdays"):
                days = props.get(prop)
                if days is not None and not (str(days).isdigit() and int(days) <= 365):
                    findings.append(Finding(el.id, el.name, f"{prop} 应为 0–365 的整数（工作日），现为 {days}"))
        elif el.kind == "serviceTask":
            op = props.get("operation")
            if op not in OPERATIONS:
                findings.append(Finding(el.id, el.name, f"服务任务须指定已注册的台账操作（operation）：{'、'.join(OPERATIONS)}"))
        days = props.get("timer_workdays")
        if days is not None and not (str(days).isdigit() and 1 <= int(days) <= 365):
            findings.append(Finding(el.id, el.name, f"定时器 timer_workdays 应为 1–365 的整数（工作日），现为 {days}"))
        if el.kind in ("endEvent", "intermediateThrowEvent"):
            state = props.get("state")
            if state and state not in STATES_FROM_EVENTS:
                findings.append(Finding(el.id, el.name, f"state 应为 {'、'.join(sorted(STATES_FROM_EVENTS))} 之一"))
            notice = props.get("notice")
            if notice and not _notice_template_exists(notice):
                findings.append(Finding(el.id, el.name, f"通知书模板 templates/notices/{notice}.html 不存在"))
    findings.extend(_assignment_findings(parsed, bpmn_xml, forms))
    first = parsed.first_user_task()
    if first is not None and role_for_lane(first.lane) != "unit_clerk":
        findings.append(Finding(first.id, first.name, "第一个用户任务须在单位经办人泳道（由单位发起）"))
    findings.extend(_unreviewed_outcomes(parsed, bpmn_xml))
    for key, form in forms.items():
        try:
            formlib.check_definition(form, key)
        except formlib.FormDefinitionError as exc:
            findings.extend(Finding(f"forms/{key}.json", comp, reason) for comp, reason in exc.problems)
    return findings, parsed


def _assignment_findings(parsed, bpmn_xml, forms):
    """Each user task's `assignment` (organisation.routing): a kind the platform knows, written
    right, fitting its lane, naming a section, a partner department, a user and a form field
    that exist (a section or department code in some office: which office's is decided per case).
    A `field:` must be filled before the step opens (the step is routed then): every path from
    the start to the step passes a user task whose form has the field; the step's own form
    does not count, it is filled after the step is routed."""
    findings = []
    graph = None
    fields_of = {}
    for el in parsed.elements.values():
        if el.kind == "userTask" and el.form_key and isinstance(forms.get(el.form_key), dict):
            fields_of[el.id] = {c.get("key") for c in formlib.data_components(forms[el.form_key]) if c.get("key")}
    for el in parsed.elements.values():
        if el.kind != "userTask":
            continue
        role = role_for_lane(el.lane)
        if role is None:
            continue  # the lane finding says it
        value = (el.properties or {}).get("assignment")
        try:
            kind, arg = routing.assignment_of(el, role)
        except ValueError as exc:
            findings.append(Finding(el.id, el.name, str(exc)))
            continue
        shown = value.strip() if value not in (None, "") else f"{kind}（未设置时的默认）"
        lane = f"「{el.lane.strip()}」泳道"
        if role == "partner" and kind != "department":
            findings.append(Finding(el.id, el.name, f"{lane}（联审部门）的环节须指定办理的部门："
                                    f"assignment 写作 department:部门代码（如 department:zzb），现为 {shown}"))
            continue
        if kind not in routing.kinds_for(role):
            if kind in ("section", "leader_of_section") and role == "unit_clerk":
                why = "单位经办人泳道的环节由申请单位办理，不能交给局方科室"
            elif kind in ("unit", "starter"):
                why = f"{routing.KINDS[kind]}只能办理单位经办人泳道的环节"
            elif kind == "department":
                why = "department: 只能用于联审部门泳道（角色 partner）"
            elif kind == "section":
                why = "section 指归口科室的科室成员，只能用于业务科室泳道；分管领导请用 leader_of_section"
            elif kind == "leader_of_section":
                why = "leader_of_section 指归口科室的分管领导，只能用于分管领导泳道；科室成员请用 section"
            else:
                why = f"{routing.KINDS[kind]}不能办理单位经办人泳道的环节（此泳道由申请单位办理）"
            usable = "、".join(k + (":…" if k in routing.ARGUMENTS else "[:…]" if k in routing.OPTIONAL_ARGUMENTS else "")
                               for k in routing.kinds_for(role))
            findings.append(Finding(el.id, el.name, f"办理人设置 {shown} 不能用于{lane}：{why}；此泳道可用：{usable}"))
            continue
        if kind in routing.OPTIONAL_ARGUMENTS and arg:
            if db.session.scalar(select(Section.id).where(Section.code == arg).limit(1)) is None:
                codes = db.session.scalars(select(Section.code).distinct().order_by(Section.code)).all()
                findings.append(Finding(el.id, el.name, f"没有代码为 {arg} 的科室"
                                        + (f"；已设置的科室代码：{'、'.join(codes)}" if codes else "")))
        elif kind == "department":
            if db.session.scalar(select(PartnerDepartment.id).where(PartnerDepartment.code == arg).limit(1)) is None:
                codes = db.session.scalars(select(PartnerDepartment.code).distinct()
                                           .order_by(PartnerDepartment.code)).all()
                findings.append(Finding(el.id, el.name, f"没有代码为 {arg} 的联审部门"
                                        + (f"；已设置的部门代码：{'、'.join(codes)}" if codes else
                                           "；请系统管理员先在组织机构中设置联审部门")))
        elif kind == "user":
            user = db.session.scalar(select(User).where(User.username == arg))
            if user is None:
                findings.append(Finding(el.id, el.name, f"办理人设置 user:{arg} 中的用户 {arg} 不存在"))
            elif not user.active:
                findings.append(Finding(el.id, el.name, f"办理人设置 user:{arg} 中的用户{user.display_name}（{arg}）已停用"))
            elif not user.has_role(role):
                findings.append(Finding(el.id, el.name, f"用户{user.display_name}（{arg}）不是{ROLES[role][0]}，"
                                        f"不能办理{lane}的环节"))
        elif kind == "field":
            if not any(arg in keys for keys in fields_of.values()):
                findings.append(Finding(el.id, el.name, f"办理人设置 field:{arg} 中的字段 {arg} 不在本流程任何用户任务的表单中"))
                continue
            if graph is None:
                graph = adapter.flow_graph(bpmn_xml, parsed.process_id)
            filled = {task_id for task_id, keys in fields_of.items() if arg in keys}
            if _reached_unfilled(el.id, filled, *graph):
                findings.append(Finding(el.id, el.name, f"办理人设置 field:{arg}：有一条路径到达此环节时字段 {arg} 尚未填写"
                                        "（此环节开始时即按字段确定办理人，字段须在此前每条路径上的某个用户任务表单中；"
                                        "本环节自己的表单不算）"))
    return findings


def _reached_unfilled(target, filled, starts, successors, boundaries):
    """Whether some path from a start reaches `target` without completing a task in `filled`
    (a boundary event leaves its task without completing it)."""
    seen, stack = set(), list(starts)
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(boundaries.get(node, ()))
        if node not in filled:
            stack.extend(successors.get(node, ()))
    return False


BUREAU_OUTCOMES = {"approved": "核准", "rejected": "不予通过"}


def _is_bureau_task(element):
    """A user task in a lane of any role but the unit clerk's: someone other than the unit."""
    return (element is not None and element.kind == "userTask"
            and role_for_lane(element.lane) not in (None, "unit_clerk"))


def _unreviewed_outcomes(parsed, bpmn_xml):
    """A ledger operation (a service task's `operation`) or an approved/rejected `state` that
    some path from a start event reaches without passing a bureau user task: the unit would
    decide its own case. Followed along sequence flows; a boundary event is reached while the
    task it sits on is still open, so a bureau task it sits on does not count as passed."""
    starts, successors, boundaries = adapter.flow_graph(bpmn_xml, parsed.process_id)
    seen, stack = set(), list(starts)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(boundaries.get(node, ()))
        if not _is_bureau_task(parsed.elements.get(node)):
            stack.extend(successors.get(node, ()))
    findings = []
    for element_id in sorted(seen):
        el = parsed.elements.get(element_id)
        if el is None:
            continue
        operation, state = el.properties.get("operation"), el.properties.get("state")
        if el.kind == "serviceTask" and operation:
            findings.append(Finding(el.id, el.name, f"台账操作 {operation} 之前必须经过局方审核环节（业务科室、分管领导等泳道的"
                                    "用户任务）：从开始到此处有一条路径不经过任何局方环节，单位可以自行办结"))
        elif el.kind in ("endEvent", "intermediateThrowEvent") and state in BUREAU_OUTCOMES:
            findings.append(Finding(el.id, el.name, f"结果「{BUREAU_OUTCOMES[state]}」（state={state}）之前必须经过局方审核环节"
                                    "（业务科室、分管领导等泳道的用户任务）：从开始到此处有一条路径不经过任何局方环节，"
                                    "单位可以自行批准"))
    return findings


def read_forms(parsed, folder):
    """The forms a diagram names, read from `folder`; missing or broken ones are left out
    (validate() reports them)."""
    result = {}
    for key in sorted({e.form_key for e in parsed.elements.values() if formlib.is_form_key(e.form_key)}):
        path = Path(folder) / f"{key}.json"
        if path.is_file():
            try:
                result[key] = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                result[key] = {"__error__": str(exc)}
    return result


def content_hash(bpmn_xml, forms, dmns=None):
    digest = hashlib.sha256(bpmn_xml.encode())
    digest.update(json.dumps(forms, ensure_ascii=False, sort_keys=True).encode())
    digest.update(json.dumps(dmns or {}, ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def latest(key):
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == key)
                                .order_by(ProcessVersion.version.desc()).limit(1))
    if version is None:
        raise NotFound(f"没有名为 {key} 的业务流程")
    return version


def all_latest():
    newest = select(ProcessVersion.key, func.max(ProcessVersion.version).label("v")).group_by(
        ProcessVersion.key).subquery()
    return db.session.scalars(select(ProcessVersion).join(
        newest, (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v))
        .order_by(ProcessVersion.key)).all()


def deploy(bpmn_xml, forms, user=None, comment=None, dmns=None):
    """Deploy a diagram, its forms and decision tables as a new version unless the newest is
    identical. Returns (version, created). Raises DefinitionError listing every finding."""
    dmns = dmns or {}
    broken = {k: f["__error__"] for k, f in forms.items() if "__error__" in f}
    if broken:
        raise DefinitionError("表单文件不是合法的 JSON", fields={f"forms/{k}.json": [v] for k, v in broken.items()})
    findings, parsed = validate(bpmn_xml, forms, dmns)
    if findings:
        fields = {}
        for f in findings:
            fields.setdefault(f.element, []).append(str(f))
        raise DefinitionError(f"流程定义有 {len(findings)} 处问题，未部署", fields=fields)
    digest = content_hash(bpmn_xml, forms, dmns)
    current = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == parsed.process_id)
                                .order_by(ProcessVersion.version.desc()).limit(1))
    if current is not None and current.content_hash == digest:
        return current, False
    version = ProcessVersion(key=parsed.process_id, version=(current.version + 1) if current else 1,
                             name=parsed.name, content_hash=digest, bpmn_xml=bpmn_xml,
                             forms_json=json.dumps(forms, ensure_ascii=False),
                             dmn_json=json.dumps(dmns, ensure_ascii=False),
                             comment=comment, deployed_by_id=user.id if user else None)
    db.session.add(version)
    db.session.flush()
    return version, True


def deploy_folder(user=None, comment=None):
    """Deploy every diagram in the configured bpmn folder. Returns [(file, version, created)]."""
    results = []
    folder = Path(current_app.config["BPMN_FOLDER"])
    decisions = {}
    for path in sorted(folder.glob("*.dmn")):
        text = path.read_text(encoding="utf-8")
        try:
            for decision_id in adapter.decision_ids(text):
                decisions[decision_id] = (path.name, text)
        except Exception as exc:
            raise DefinitionError(f"{path.name} 不是合法的 DMN", fields={path.name: [str(exc)]}) from None
    for path in sorted(folder.glob("*.bpmn")):
        xml = path.read_text(encoding="utf-8")
        try:
            dmns = dict(decisions[ref] for ref in adapter.decision_refs(xml) if ref in decisions)
            parsed = adapter.parse(xml, tuple(dmns.values()))
        except adapter.EngineError as exc:
            raise DefinitionError(f"{path.name}：{exc.message}", fields={path.name: [exc.message]}) from None
        forms = read_forms(parsed, current_app.config["FORMS_FOLDER"])
        version, created = deploy(xml, forms, user, comment or f"从 {path.name} 部署", dmns)
        results.append((path.name, version, created))
    return results


# A deployed version never changes, so its parsed spec and forms are cached by id and content
# hash (per process; every app server fills its own). The content columns are read on a miss.
_parsed, _forms = {}, {}


def parsed_version(version):
    key = (version.id, version.content_hash)
    if key not in _parsed:
        dmns = tuple(json.loads(version.dmn_json or "{}").values())
        _parsed[key] = adapter.parse(version.bpmn_xml, dmns)
    return _parsed[key]


def version_forms(version):
    key = (version.id, version.content_hash)
    if key not in _forms:
        _forms[key] = json.loads(version.forms_json)
    return _forms[key]


_decision_labels = {}


def decision_labels(version, bpmn_id):
    """{decision value: label} of the options of the `decision` field in the form of the step
    `bpmn_id` (落编确认's form says approve → 确认落编, a review's approve → 同意); empty for a
    step without such a form (a withdrawal, a timer)."""
    key = (version.id, version.content_hash, bpmn_id)
    if key not in _decision_labels:
        element = parsed_version(version).elements.get(bpmn_id)
        form = version_forms(version).get(element.form_key) if element is not None and element.form_key else None
        field = next((c for c in formlib.data_components(form or {}) if c.get("key") == "decision"), None)
        _decision_labels[key] = {str(v.get("value")): v.get("label") for v in (field or {}).get("values") or []
                                 if v.get("label")}
    return _decision_labels[key]


def startable(user):
    """The newest version of every process whose first step is the unit's, for a unit clerk."""
    if not (user.has_role("unit_clerk") and user.unit_id):
        return []
    return [v for v in all_latest() if role_for_lane(parsed_version(v).first_user_task().lane) == "unit_clerk"
            and parsed_version(v).start_properties.get("started_by") != "bureau"]  # 年审: the bureau starts it
