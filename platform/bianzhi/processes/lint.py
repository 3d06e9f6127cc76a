"""What a diagram brought from another modeler may contain.

XML-level checks that name every element the platform cannot run as drawn: a foreign dialect
(`spiffworkflow:*`, which our Camunda-dialect parser would silently ignore), elements with no
meaning here (manual, send and receive tasks, call activities, sub-processes, loops), events
nothing on the platform can trigger, Camunda listeners and connectors that would never run.
Each finding is (element id, element name, what to change). The engine-level checks (parse,
lanes, forms, operations, expressions) are in `operations.validate`.
"""
from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_BYTES = 2 * 1024 * 1024

UNSUPPORTED_ELEMENTS = {
    "manualTask": "手工任务（manualTask）没有表单，平台无法派发；请改为用户任务（userTask）并指定表单",
    "task": "未指定类型的任务（task）会等人办理却没有表单；请改为用户任务（指定表单）或服务任务（指定台账操作）",
    "sendTask": "发送任务（sendTask）在本平台没有接收方；请删除，或改为服务任务并指定台账操作",
    "receiveTask": "接收任务（receiveTask）没有消息来源，案件会一直停在这里；请删除",
    "callActivity": "调用活动（callActivity）暂不支持；请把被调用流程的环节画进本流程",
    "subProcess": "子流程（subProcess）暂不支持；请把其中的环节展开画进本流程",
    "transaction": "事务子流程（transaction）暂不支持；请把其中的环节展开画进本流程",
    "adHocSubProcess": "自由子流程（adHocSubProcess）暂不支持",
    "complexGateway": "复杂网关（complexGateway）不支持；请改用排他网关或并行网关",
}
UNSUPPORTED_EVENTS = {
    "messageEventDefinition": "消息事件",
    "signalEventDefinition": "信号事件",
    "conditionalEventDefinition": "条件事件",
    "escalationEventDefinition": "升级事件",
    "compensateEventDefinition": "补偿事件",
    "errorEventDefinition": "错误事件",
    "cancelEventDefinition": "取消事件",
}
SPIFF_HINTS = {
    "properties": "请改用 camunda:properties（扩展属性）",
    "preScript": "请改为在此环节前加一个脚本任务",
    "postScript": "请改为在此环节后加一个脚本任务",
    "serviceTaskOperator": "请用扩展属性 operation 指定已注册的台账操作",
    "calledDecisionId": "请改用 camunda:decisionRef 指定决策表",
}
SPIFF_HARMLESS = {"instructionsForEndUser"}  # display text only; the platform shows its forms
CAMUNDA_IGNORED = {
    "executionListener": "camunda:executionListener 不会执行；请改用脚本任务或服务任务",
    "taskListener": "camunda:taskListener 不会执行；派发由泳道决定",
    "inputOutput": "camunda:inputOutput 不会生效；环节之间直接共享表单数据",
    "connector": "camunda:connector 不会执行；请用扩展属性 operation 指定已注册的台账操作",
    "formData": "内嵌表单字段（camunda:formData）不会使用；请在 forms/ 中建表单并用 camunda:formKey 引用",
}
CAMUNDA_IGNORED_ATTRIBUTES = {
    "class": "服务任务的 camunda:class 不会执行；请用扩展属性 operation 指定已注册的台账操作",
    "delegateExpression": "camunda:delegateExpression 不会执行；请用扩展属性 operation 指定已注册的台账操作",
    "expression": "camunda:expression 不会执行；请用扩展属性 operation 指定已注册的台账操作",
    "type": "外部任务（camunda:type）不会执行；请用扩展属性 operation 指定已注册的台账操作",
}


def _local(el):
    return etree.QName(el).localname if isinstance(el.tag, str) else None


def _owner(el):
    """The nearest enclosing BPMN element with an id (the one to name in a finding)."""
    node = el
    while node is not None:
        if isinstance(node.tag, str) and etree.QName(node).namespace == BPMN and node.get("id"):
            return node
        node = node.getparent()
    return None


def _named(el, fallback="definitions"):
    if el is None:
        return fallback, ""
    return el.get("id"), el.get("name") or ""


def check(bpmn_xml):
    """Findings as (element id, name, message); [] for a document this module has no objection
    to (or one that is not XML at all: the parser reports that)."""
    raw = bpmn_xml.encode() if isinstance(bpmn_xml, str) else bpmn_xml
    if len(raw) > MAX_BYTES:
        return [("definitions", "", f"文件过大（{len(raw) // 1024} KB，上限 {MAX_BYTES // 1024} KB）")]
    try:
        root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return []
    if etree.QName(root).namespace != BPMN or _local(root) != "definitions":
        return [("definitions", "", "不是 BPMN 文档（根元素应为 bpmn:definitions）")]
    findings = []
    processes = root.findall(f"{{{BPMN}}}process")
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"]
    if processes and not executable:
        findings.append((*_named(processes[0]), "流程未标记为可执行（isExecutable=\"false\"）；请在建模器中勾选“可执行”"))
    elif len(executable) > 1:
        findings.append(("definitions", "", "文件中有 {} 个可执行流程（{}）；每个文件只能部署一个流程".format(
            len(executable), "、".join(p.get("id") for p in executable))))
    for el in root.iter():
        local = _local(el)
        if local is None:
            continue
        namespace = etree.QName(el).namespace
        if namespace == BPMN:
            if local in UNSUPPORTED_ELEMENTS:
                findings.append((*_named(el), UNSUPPORTED_ELEMENTS[local]))
            elif local in UNSUPPORTED_EVENTS:
                event = _owner(el.getparent())
                findings.append((*_named(event), f"本平台没有触发{UNSUPPORTED_EVENTS[local]}的来源；请删除，或改用定时事件"))
            elif local in ("multiInstanceLoopCharacteristics", "standardLoopCharacteristics"):
                findings.append((*_named(_owner(el.getparent())), "多实例或循环环节暂不支持；请改用网关画出回路"))
            elif local == "businessRuleTask" and not el.get(f"{{{CAMUNDA}}}decisionRef"):
                findings.append((*_named(el), "业务规则任务须用 camunda:decisionRef 指定决策表"))
            elif local == "serviceTask":
                for attr, message in CAMUNDA_IGNORED_ATTRIBUTES.items():
                    if el.get(f"{{{CAMUNDA}}}{attr}"):
                        findings.append((*_named(el), message))
        elif namespace == SPIFF and local not in SPIFF_HARMLESS:
            parent = el.getparent()
            if parent is not None and etree.QName(parent).namespace == SPIFF:
                continue  # reported with its spiffworkflow: parent
            if local in ("preScript", "postScript") and not (el.text or "").strip():
                continue  # an empty one does nothing either way
            hint = SPIFF_HINTS.get(local, "请改用 Camunda 方言")
            findings.append((*_named(_owner(el)), f"spiffworkflow:{local} 是 SpiffWorkflow 方言，本平台采用 Camunda 方言，"
                                                   f"它不会生效；{hint}"))
        elif namespace == CAMUNDA and local in CAMUNDA_IGNORED:
            findings.append((*_named(_owner(el)), CAMUNDA_IGNORED[local]))
    return list(dict.fromkeys(findings))


def names(bpmn_xml):
    """{element id: name} of every BPMN element in a document ({} when it is not XML)."""
    try:
        root = etree.fromstring(bpmn_xml.encode() if isinstance(bpmn_xml, str) else bpmn_xml,
                                parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return {}
    return {el.get("id"): el.get("name") or "" for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).namespace == BPMN and el.get("id")}
