"""A readable difference between two versions of a process, for the versions page: elements
added, removed and changed (by id and name, with what changed in words), and the forms that
changed, component by component. Compares the BPMN documents themselves (not the engine's
specs), so sequence flows, lanes, conditions and properties are all covered by their ids."""
import json
from dataclasses import dataclass, field

from lxml import etree

from ..accounts.models import role_for_lane
from ..organisation import routing

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"

KIND_LABELS = {
    "userTask": "用户任务", "serviceTask": "服务任务", "scriptTask": "脚本任务", "businessRuleTask": "业务规则任务",
    "manualTask": "手工任务", "task": "任务", "sendTask": "发送任务", "receiveTask": "接收任务",
    "callActivity": "调用活动", "subProcess": "子流程", "exclusiveGateway": "排他网关", "parallelGateway": "并行网关",
    "inclusiveGateway": "包容网关", "eventBasedGateway": "事件网关", "complexGateway": "复杂网关",
    "startEvent": "开始事件", "endEvent": "结束事件", "intermediateThrowEvent": "中间事件",
    "intermediateCatchEvent": "中间捕获事件", "boundaryEvent": "边界事件", "sequenceFlow": "连线", "lane": "泳道",
}


@dataclass
class Change:
    id: str
    name: str
    kind: str
    details: list = field(default_factory=list)

    @property
    def label(self):
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass
class Diff:
    added: list
    removed: list
    changed: list
    forms: list  # Change(id=form key, kind="form", details)

    @property
    def empty(self):
        return not (self.added or self.removed or self.changed or self.forms)


def _text(el, local):
    found = el.find(f"{{{BPMN}}}{local}")
    return (found.text or "").strip() if found is not None else None


def _elements(xml):
    try:
        root = etree.fromstring(xml.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return {}
    lanes = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):
        for ref in lane.iter(f"{{{BPMN}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    found = {}
    for process in root.iter(f"{{{BPMN}}}process"):
        for el in process.iter():
            if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN or not el.get("id"):
                continue
            kind = etree.QName(el).localname
            if kind not in KIND_LABELS:
                continue
            info = {"kind": kind, "name": el.get("name") or "", "lane": lanes.get(el.get("id")),
                    "formKey": el.get(f"{{{CAMUNDA}}}formKey"), "decisionRef": el.get(f"{{{CAMUNDA}}}decisionRef"),
                    "source": el.get("sourceRef"), "target": el.get("targetRef"), "default": el.get("default"),
                    "attachedTo": el.get("attachedToRef"), "condition": _text(el, "conditionExpression"),
                    "script": _text(el, "script"), "properties": {}}
            for prop in el.iter(f"{{{CAMUNDA}}}property"):
                if prop.getparent() is not None and _owner_id(prop) == el.get("id"):
                    info["properties"][prop.get("name") or prop.get("id")] = prop.get("value")
            timer = el.find(f"{{{BPMN}}}timerEventDefinition")
            if timer is not None:
                info["timer"] = " ".join((c.text or "").strip() for c in timer if isinstance(c.tag, str))
            found[el.get("id")] = info
    return found


def _owner_id(el):
    node = el.getparent()
    while node is not None:
        if isinstance(node.tag, str) and etree.QName(node).namespace == BPMN and node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _show(value):
    return f"「{value}」" if value not in (None, "") else "（无）"


def _element_changes(a, b, names):
    details = []
    if a["kind"] != b["kind"]:
        details.append(f"类型：{KIND_LABELS.get(a['kind'], a['kind'])} → {KIND_LABELS.get(b['kind'], b['kind'])}")
    if a["name"] != b["name"]:
        details.append(f"名称：{_show(a['name'])} → {_show(b['name'])}")
    if a["lane"] != b["lane"]:
        details.append(f"泳道（角色）：{_show(a['lane'])} → {_show(b['lane'])}")
    if a["formKey"] != b["formKey"]:
        details.append(f"表单：{_show(a['formKey'])} → {_show(b['formKey'])}")
    if a["decisionRef"] != b["decisionRef"]:
        details.append(f"决策表：{_show(a['decisionRef'])} → {_show(b['decisionRef'])}")
    if (a["source"], a["target"]) != (b["source"], b["target"]):
        details.append(f"连接：{names(a['source'])} → {names(a['target'])} 改为 {names(b['source'])} → {names(b['target'])}")
    if a["attachedTo"] != b["attachedTo"]:
        details.append(f"附着环节：{names(a['attachedTo'])} → {names(b['attachedTo'])}")
    if a["default"] != b["default"]:
        details.append(f"默认出口：{_show(a['default'])} → {_show(b['default'])}")
    if a["condition"] != b["condition"]:
        details.append(f"条件：{_show(a['condition'])} → {_show(b['condition'])}")
    if a["script"] != b["script"]:
        details.append("脚本内容已修改")
    if a.get("timer") != b.get("timer"):
        details.append(f"定时：{_show(a.get('timer'))} → {_show(b.get('timer'))}")
    for prop in sorted(set(a["properties"]) | set(b["properties"])):
        old, new = a["properties"].get(prop), b["properties"].get(prop)
        if prop == "assignment" and a["kind"] == b["kind"] == "userTask":
            # who holds the step, in words: an empty value is the lane's default
            was = routing.describe(old, role_for_lane(a["lane"]), a["lane"])
            now = routing.describe(new, role_for_lane(b["lane"]), b["lane"])
            if was != now:
                details.append(f"办理人：{was}{'（泳道默认）' if not old else ''} → {now}{'（泳道默认）' if not new else ''}")
            elif (old or "") != (new or ""):
                details.append(f"办理人设置：{_show(old)} → {_show(new)}（办理人不变：{now}）")
            continue
        if old != new:
            if old is None:
                details.append(f"新增属性 {prop}={_show(new)}")
            elif new is None:
                details.append(f"删除属性 {prop}（原为{_show(old)}）")
            else:
                details.append(f"属性 {prop}：{_show(old)} → {_show(new)}")
    return details


def _components(form):
    found = {}

    def walk(components, prefix=""):
        for comp in components or []:
            if isinstance(comp, dict):
                key = comp.get("key") or comp.get("id") or comp.get("type")
                found[prefix + str(key)] = comp
                if comp.get("components"):
                    walk(comp["components"], f"{prefix}{key}.")
    walk(form.get("components") if isinstance(form, dict) else [])
    return found


def _form_changes(old, new):
    details = []
    a, b = _components(old), _components(new)
    for key in b.keys() - a.keys():
        details.append(f"新增字段 {key}（{b[key].get('label') or b[key].get('type')}）")
    for key in a.keys() - b.keys():
        details.append(f"删除字段 {key}（{a[key].get('label') or a[key].get('type')}）")
    for key in sorted(a.keys() & b.keys()):
        x, y = a[key], b[key]
        if x == y:
            continue
        parts = []
        if x.get("label") != y.get("label"):
            parts.append(f"标签{_show(x.get('label'))}→{_show(y.get('label'))}")
        if (x.get("validate") or {}).get("required") != (y.get("validate") or {}).get("required"):
            parts.append("改为必填" if (y.get("validate") or {}).get("required") else "改为选填")
        if x.get("values") != y.get("values"):
            parts.append("选项已修改")
        if x.get("type") != y.get("type"):
            parts.append(f"类型 {x.get('type')}→{y.get('type')}")
        details.append(f"字段 {key}：{'，'.join(parts) or '设置已修改'}")
    return sorted(details)


def compare(old_xml, new_xml, old_forms, new_forms):
    a, b = _elements(old_xml), _elements(new_xml)

    def names(element_id):
        info = b.get(element_id) or a.get(element_id)
        return f"{element_id}（{info['name']}）" if info and info["name"] else str(element_id)

    added = [Change(i, b[i]["name"], b[i]["kind"]) for i in b if i not in a]
    removed = [Change(i, a[i]["name"], a[i]["kind"]) for i in a if i not in b]
    changed = []
    for i in a:
        if i in b:
            details = _element_changes(a[i], b[i], names)
            if details:
                changed.append(Change(i, b[i]["name"] or a[i]["name"], b[i]["kind"], details))
    old_forms = old_forms if isinstance(old_forms, dict) else json.loads(old_forms or "{}")
    new_forms = new_forms if isinstance(new_forms, dict) else json.loads(new_forms or "{}")
    forms = []
    for key in sorted(set(old_forms) | set(new_forms)):
        if key not in old_forms:
            forms.append(Change(key, new_forms[key].get("title", "") if isinstance(new_forms[key], dict) else "",
                                "form", ["新增表单"]))
        elif key not in new_forms:
            forms.append(Change(key, "", "form", ["不再使用此表单"]))
        elif old_forms[key] != new_forms[key]:
            forms.append(Change(key, "", "form", _form_changes(old_forms[key], new_forms[key]) or ["表单设置已修改"]))
    return Diff(added, removed, changed, forms)
