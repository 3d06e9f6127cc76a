"""Designing processes in the browser: drafts, validation, deploy from a draft, rollback.

Only a process owner saves drafts (a draft affects nobody); only an admin deploys. Deploying
goes through `operations.deploy`, which validates everything first, so a refused draft leaves
no trace but the findings. Both saving and deploying are in the audit log.
"""
import json
import re
from pathlib import Path

from flask import current_app
from lxml import etree
from sqlalchemy import select

from .. import clock
from ..accounts.models import ROLES
from ..audit.operations import record as audit
from ..errors import Conflict, DefinitionError, Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..organisation import routing
from ..organisation.models import PartnerDepartment, Section
from . import forms as formlib
from . import lint
from . import operations as processes
from .models import ProcessDraft, ProcessVersion
from .registry import OPERATIONS, RULES

KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
READERS = ("process_owner", "admin", "auditor")
CAMUNDA_FORM_KEY = f"{{{lint.CAMUNDA}}}formKey"
CAMUNDA_DECISION_REF = f"{{{lint.CAMUNDA}}}decisionRef"
MAX_COMMENT = 500


def _require(user, roles, message):
    if not user.has_role(*roles):
        raise Forbidden(message)


def _xml_root(bpmn_xml):
    try:
        return etree.fromstring(bpmn_xml.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValidationFailed(f"流程图不是合法的 XML：{exc.msg}（第 {exc.lineno} 行）",
                               fields={"bpmn": [f"第 {exc.lineno} 行：{exc.msg}"]}, code="bad_bpmn") from None


def _executable_processes(root):
    return [p for p in root.iter(f"{{{lint.BPMN}}}process") if p.get("isExecutable", "true") != "false"]


def process_of(bpmn_xml):
    """(process id, name) of the one executable process in a document, for drafts (which need
    not be valid yet, only well-formed and about one process)."""
    root = _xml_root(bpmn_xml)
    found = _executable_processes(root) or list(root.iter(f"{{{lint.BPMN}}}process"))
    if not found:
        raise ValidationFailed("文件中没有流程（bpmn:process）", fields={"bpmn": ["没有 bpmn:process 元素"]},
                               code="bad_bpmn")
    if len(found) > 1:
        ids = "、".join(p.get("id") or "?" for p in found)
        raise ValidationFailed(f"文件中有多个可执行流程（{ids}），每个文件只能是一个流程",
                               fields={"bpmn": [f"可执行流程：{ids}"]}, code="bad_bpmn")
    return found[0].get("id") or "", found[0].get("name") or ""


def _refs(bpmn_xml, attribute):
    try:
        root = etree.fromstring(bpmn_xml.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return []
    return sorted({el.get(attribute) for el in root.iter() if isinstance(el.tag, str) and el.get(attribute)})


def folder_form_keys():
    return sorted(p.stem for p in Path(current_app.config["FORMS_FOLDER"]).glob("*.json"))


def _folder_form(key):
    if not formlib.is_form_key(key):  # a path, not a name: never opened (the validator names the task)
        return None
    path = Path(current_app.config["FORMS_FOLDER"]) / f"{key}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return {"__error__": str(exc)}


def forms_for(bpmn_xml, forms):
    """The forms a diagram names: from `forms` (edited with it) or else from forms/; a form
    found in neither is left out, and the validator names the task that wants it."""
    result = {}
    for key in _refs(bpmn_xml, CAMUNDA_FORM_KEY):
        if not formlib.is_form_key(key):
            continue
        form = forms.get(key) if key in forms else _folder_form(key)
        if form is not None:
            result[key] = form
    return result


def decisions_for(bpmn_xml, known):
    """The decision tables a diagram calls: those it had (`known`, file name → DMN text),
    completed from the .dmn files in bpmn/."""
    wanted = set(_refs(bpmn_xml, CAMUNDA_DECISION_REF))
    result = {}
    for name, text in known.items():
        if wanted & set(_decision_ids(text)):
            result[name] = text
    missing = wanted - {d for text in result.values() for d in _decision_ids(text)}
    for path in sorted(Path(current_app.config["BPMN_FOLDER"]).glob("*.dmn")) if missing else []:
        text = path.read_text(encoding="utf-8")
        if missing & set(_decision_ids(text)):
            result[path.name] = text
    return result


def _decision_ids(dmn_xml):
    try:
        root = etree.fromstring(dmn_xml.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return []
    return [el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}decision")]


def notice_templates():
    folder = Path(current_app.config["TEMPLATES_FOLDER"]) / "notices"
    return sorted(p.stem for p in folder.glob("*.html") if not p.stem.startswith("_"))


def get_draft(key):
    return db.session.scalar(select(ProcessDraft).where(ProcessDraft.key == key))


def newest(key):
    """The newest version of `key`, or None."""
    return db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == key)
                             .order_by(ProcessVersion.version.desc()).limit(1))


def get_version(key, number):
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.key == key,
                                                             ProcessVersion.version == number))
    if version is None:
        raise NotFound(f"流程 {key} 没有第 {number} 版")
    return version


def versions(key):
    rows = db.session.scalars(select(ProcessVersion).where(ProcessVersion.key == key)
                              .order_by(ProcessVersion.version.desc())).all()
    if not rows and get_draft(key) is None:
        raise NotFound(f"没有名为 {key} 的业务流程")
    return rows


def overview():
    """Every process (deployed or only drafted): (key, name, newest version or None, draft or None)."""
    drafts = {d.key: d for d in db.session.scalars(select(ProcessDraft))}
    rows = [(v.key, v.name, v, drafts.pop(v.key, None)) for v in processes.all_latest()]
    rows.extend((d.key, d.name, None, d) for d in drafts.values())
    return sorted(rows, key=lambda r: r[0])


def design_view(user, key):
    """What the modeler loads: the draft if there is one, else the newest version, and the
    names the properties panel offers (roles, operations, rules, forms, notice templates)."""
    _require(user, READERS, "只有流程管理员、系统管理员和督查可以查看流程设计")
    draft = get_draft(key)
    if draft is not None:
        forms = json.loads(draft.forms_json or "{}")
        body = {"key": key, "name": draft.name, "bpmn": draft.bpmn_xml, "forms": forms,
                "based_on": draft.based_on.version if draft.based_on else None,
                "updated_at": draft.updated_at.isoformat(), "updated_by": draft.updated_by.display_name,
                "is_draft": True}
    else:
        version = newest(key)
        if version is None:
            raise NotFound(f"没有名为 {key} 的业务流程")
        forms = processes.version_forms(version)
        body = {"key": key, "name": version.name, "bpmn": version.bpmn_xml, "forms": forms,
                "based_on": version.version, "updated_at": version.deployed_at.isoformat(),
                "updated_by": version.deployed_by.display_name if version.deployed_by else None,
                "is_draft": False}
    body.update({
        "roles": [{"key": k, "label": label} for k, (label, _aliases) in ROLES.items()],
        "operations": sorted(OPERATIONS), "rules": sorted(RULES),
        "form_keys": sorted(set(folder_form_keys()) | set(forms)),
        "notice_templates": notice_templates(),
        "assignment": assignment_catalog(),
    })
    return body


def assignment_catalog():
    """What the modeler's 办理人 field offers (organisation.routing): every kind with its label
    and the argument it takes (optional for section and leader_of_section: a named section),
    per lane name the role, its default and the kinds that fit, and the sections' and partner
    departments' codes."""
    lanes = {}
    for role, (_label, aliases) in ROLES.items():
        for lane in aliases:
            default = routing.default_for(role, lane)
            lanes[lane] = {"role": role, "default": default, "default_label": routing.KINDS[default],
                           "kinds": list(routing.kinds_for(role))}
    departments = {}
    for code, name in db.session.execute(select(PartnerDepartment.code, PartnerDepartment.name)
                                         .order_by(PartnerDepartment.code, PartnerDepartment.id)):
        departments.setdefault(code, name)
    sections = {}
    for code, name in db.session.execute(select(Section.code, Section.name).order_by(Section.code, Section.id)):
        sections.setdefault(code, name)
    return {"kinds": [{"key": k, "label": label,
                       "argument": routing.ARGUMENTS.get(k) or routing.OPTIONAL_ARGUMENTS.get(k),
                       "optional": k in routing.OPTIONAL_ARGUMENTS, "named_label": routing.NAMED_LABELS.get(k)}
                      for k, label in routing.KINDS.items()],
            "lanes": lanes,
            "departments": [{"code": code, "name": name} for code, name in departments.items()],
            "sections": [{"code": code, "name": name} for code, name in sections.items()]}


def _check_body(key, bpmn_xml, forms):
    problems = {}
    if not KEY_PATTERN.match(key or ""):
        raise ValidationFailed("流程标识只能由字母、数字、下划线、点和连字符组成，且以字母开头", fields={"key": ["格式不正确"]})
    if not isinstance(bpmn_xml, str) or not bpmn_xml.strip():
        problems["bpmn"] = ["请提供流程图（BPMN XML 文本）"]
    elif len(bpmn_xml.encode()) > lint.MAX_BYTES:
        problems["bpmn"] = [f"流程图过大（上限 {lint.MAX_BYTES // 1024} KB）"]
    if not isinstance(forms, dict):
        problems["forms"] = ["表单应为对象：{表单标识: 表单定义}"]
    else:
        for form_key, form in forms.items():
            if not KEY_PATTERN.match(str(form_key)):
                problems.setdefault("forms", []).append(f"表单标识「{form_key}」格式不正确")
            elif not isinstance(form, dict):
                problems.setdefault("forms", []).append(f"表单 {form_key} 应为 JSON 对象")
    if problems:
        raise ValidationFailed("草稿内容格式不正确", fields=problems, code="bad_draft")


def save_draft(user, key, bpmn_xml, forms, ip=None):
    """Create or replace the draft of `key` (a new key makes a new process). The diagram need
    not be valid yet, only well-formed XML about the process `key`."""
    _require(user, ("process_owner",), "只有流程管理员可以保存草稿")
    draft = get_draft(key)
    base = newest(key)
    if forms is None:  # the diagram alone: keep the forms edited so far
        forms = (json.loads(draft.forms_json or "{}") if draft is not None
                 else processes.version_forms(base) if base is not None else {})
    _check_body(key, bpmn_xml, forms)
    process_id, name = process_of(bpmn_xml)
    if process_id != key:
        raise ValidationFailed(f"流程图中流程的 id 是「{process_id}」，应为「{key}」",
                               fields={"bpmn": [f"请把流程 id 改为 {key}"]}, code="wrong_process")
    if draft is None:
        draft = ProcessDraft(key=key, based_on_version_id=base.id if base else None,
                             dmn_json=base.dmn_json if base is not None else "{}")
        db.session.add(draft)
    draft.name = (name or (base.name if base else key))[:128]
    draft.bpmn_xml = bpmn_xml
    draft.forms_json = json.dumps(forms, ensure_ascii=False)
    draft.dmn_json = json.dumps(decisions_for(bpmn_xml, json.loads(draft.dmn_json or "{}")), ensure_ascii=False)
    draft.updated_by_id = user.id
    draft.updated_by = user
    draft.updated_at = clock.now()
    db.session.flush()
    audit(user, "process.draft_save", f"process:{key}", ip=ip, based_on=base.version if base else None,
          forms=sorted(forms))
    return draft


def upload_draft(user, filename, content, ip=None):
    """A .bpmn file from Camunda Modeler or bpmn.io becomes the draft of the process it
    describes (a new process when its id is new). The forms it names come along from the
    process's current draft or version, or from forms/."""
    _require(user, ("process_owner",), "只有流程管理员可以上传流程图")
    if not filename or not filename.lower().endswith(".bpmn"):
        raise ValidationFailed("请上传 .bpmn 文件", fields={"file": ["只接受 .bpmn 文件"]})
    if len(content) > lint.MAX_BYTES:
        raise ValidationFailed("文件过大", fields={"file": [f"上限 {lint.MAX_BYTES // 1024} KB"]})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("文件不是 UTF-8 编码的文本", fields={"file": ["请以 UTF-8 编码保存"]}) from None
    key, _name = process_of(text)
    if not KEY_PATTERN.match(key or ""):
        raise ValidationFailed(f"流程 id「{key}」不能用作流程标识（字母开头，字母、数字、下划线）",
                               fields={"file": ["请在建模器中修改流程 id"]})
    current = get_draft(key)
    base = newest(key)
    known = (json.loads(current.forms_json or "{}") if current is not None
             else processes.version_forms(base) if base is not None else {})
    return save_draft(user, key, text, forms_for(text, known), ip=ip)


def _content(key, bpmn_xml=None, forms=None):
    """The diagram, forms and decision tables to check: those given, else the saved draft,
    else the newest version."""
    if bpmn_xml is None:
        draft = get_draft(key)
        if draft is not None:
            return (draft.bpmn_xml, forms_for(draft.bpmn_xml, json.loads(draft.forms_json or "{}")),
                    json.loads(draft.dmn_json or "{}"))
        version = newest(key)
        if version is None:
            raise NotFound(f"没有名为 {key} 的业务流程")
        return version.bpmn_xml, processes.version_forms(version), json.loads(version.dmn_json or "{}")
    if forms is None:
        draft = get_draft(key)
        version = newest(key)
        forms = (json.loads(draft.forms_json or "{}") if draft is not None
                 else processes.version_forms(version) if version is not None else {})
    _check_body(key, bpmn_xml, forms)
    draft, version = get_draft(key), newest(key)
    known = json.loads((draft.dmn_json if draft else version.dmn_json if version else None) or "{}")
    return bpmn_xml, forms_for(bpmn_xml, forms), decisions_for(bpmn_xml, known)


def validate(user, key, bpmn_xml=None, forms=None):
    """Findings for a diagram about to be saved or deployed (or the saved draft)."""
    _require(user, ("process_owner", "admin"), "只有流程管理员和系统管理员可以校验流程")
    bpmn_xml, forms, dmns = _content(key, bpmn_xml, forms)
    findings, parsed = processes.validate(bpmn_xml, forms, dmns)
    if parsed is not None and parsed.process_id != key:
        findings.insert(0, processes.Finding(parsed.process_id, parsed.name, f"流程 id 应为 {key}"))
    return findings


def _refused(findings, message):
    fields = {}
    for f in findings:
        fields.setdefault(f.element, []).append(str(f))
    err = DefinitionError(message, fields=fields)
    err.findings = findings
    return err


def deploy_draft(user, key, comment, ip=None):
    """Deploy the saved draft as the next version (admin only, with a comment). The draft is
    then gone: it is the newest version."""
    _require(user, ("admin",), "只有系统管理员可以部署流程")
    comment = comment.strip() if isinstance(comment, str) else ""
    if not comment:
        raise ValidationFailed("请填写部署说明", fields={"comment": ["必填：说明这次改了什么"]})
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed("部署说明过长", fields={"comment": [f"不能超过 {MAX_COMMENT} 字"]})
    draft = get_draft(key)
    if draft is None:
        raise NotFound(f"流程 {key} 没有待部署的草稿")
    forms = forms_for(draft.bpmn_xml, json.loads(draft.forms_json or "{}"))
    dmns = json.loads(draft.dmn_json or "{}")
    findings, parsed = processes.validate(draft.bpmn_xml, forms, dmns)
    if parsed is not None and parsed.process_id != key:
        findings.insert(0, processes.Finding(parsed.process_id, parsed.name, f"流程 id 应为 {key}"))
    if findings:
        raise _refused(findings, f"流程定义有 {len(findings)} 处问题，未部署")
    version, created = processes.deploy(draft.bpmn_xml, forms, user, comment, dmns)
    if not created:
        raise Conflict(f"草稿与当前第 {version.version} 版内容相同，无需部署", code="unchanged")
    db.session.delete(draft)
    audit(user, "process.deploy", f"process:{key}", ip=ip, version=version.version, comment=comment)
    db.session.flush()
    return version


def rollback(user, key, number, comment=None, ip=None):
    """Deploy version `number`'s content again as the newest version (admin only)."""
    _require(user, ("admin",), "只有系统管理员可以回滚流程")
    old = get_version(key, number)
    current = newest(key)
    if current.id == old.id:
        raise Conflict(f"第 {number} 版已是最新版本", code="unchanged")
    note = f"回滚：重新部署第 {old.version} 版的内容"
    extra = (comment or "").strip()[:MAX_COMMENT]
    version, created = processes.deploy(old.bpmn_xml, processes.version_forms(old), user,
                                        f"{note}（{extra}）" if extra else note, json.loads(old.dmn_json or "{}"))
    if not created:
        raise Conflict(f"第 {number} 版与最新版本内容相同，无需回滚", code="unchanged")
    audit(user, "process.rollback", f"process:{key}", ip=ip, version=version.version, from_version=old.version,
          comment=extra or None)
    db.session.flush()
    return version
