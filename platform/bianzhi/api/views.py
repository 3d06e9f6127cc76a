"""The JSON API, /api/v1: same rules as the pages, bearer-token auth."""
from functools import wraps

from io import BytesIO

from flask import Blueprint, g, jsonify, request, send_file
from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import access
from ..accounts import operations as accounts
from ..audit.operations import record
from ..cases import operations as cases
from ..accounts.models import User
from ..cases.models import Attachment, Case, CaseStep
from ..organisation import operations as organisation
from ..organisation.models import Office, Section, SectionMember
from ..errors import DomainError, NotFound, Unauthorized, ValidationFailed
from ..extensions import csrf, db
from ..ledger import operations as ledger
from ..ledger.models import Department
from ..notices import operations as notices
from ..notices.models import Notice
from ..processes import operations as processes
from ..util import utc_iso
from ..web.transaction import commit_before_error
from .openapi import spec
from .schemas import AttachmentSchema, CaseSchema, NoticeSchema, TaskSchema

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, never cookies: no cross-site request can carry them


def json_body():
    """The request's JSON object, or 422 bad_json."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", code="bad_json")
    return body


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Unauthorized("缺少访问令牌：请在 Authorization 头中使用 Bearer 令牌", code="no_token")
        g.api_user = accounts.user_for_token(header[len("Bearer "):].strip())
        access.check(g.api_user)
        access.check_objects(g.api_user)
        return view(*args, **kwargs)
    return wrapper


_CASE_SCHEMA = CaseSchema(exclude=("history",))
_BEHALF = aliased(User)
_HISTORY = (select(CaseStep.name, User.display_name, User.username, _BEHALF.username, CaseStep.decision,
                   CaseStep.opinion, CaseStep.at)
            .join(User, User.id == CaseStep.user_id).outerjoin(_BEHALF, _BEHALF.id == CaseStep.on_behalf_of_id))
_ATTACHMENT_COLUMNS = select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
                             Attachment.sha256, Attachment.uploaded_at)


def case_history(case_id):
    """The case's history as HistorySchema shows it (a test holds the two equal), read as plain
    columns: a case page or completion answer builds no step or user objects for it."""
    return [{"step": name, "by": by, "username": username, "on_behalf_of": behalf, "decision": decision,
             "opinion": opinion, "at": utc_iso(at)}
            for name, by, username, behalf, decision, opinion, at in
            db.session.execute(_HISTORY.where(CaseStep.case_id == case_id).order_by(CaseStep.id))]


def _case_json(case):
    data = _CASE_SCHEMA.dump(case)
    data["history"] = case_history(case.id)
    data["attachments"] = [{"id": id_, "filename": filename, "content_type": content_type, "size": size,
                            "sha256": sha256, "uploaded_at": utc_iso(uploaded_at)}
                           for id_, filename, content_type, size, sha256, uploaded_at in db.session.execute(
                               _ATTACHMENT_COLUMNS.where(Attachment.case_id == case.id).order_by(Attachment.id))]
    return data


def case_attachments(case):
    return db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all()


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


@bp.post("/tokens")
def create_token():
    body = json_body()
    bad = {k: ["必填，应为文字"] for k in ("username", "password") if not isinstance(body.get(k), str)}
    if bad:
        raise ValidationFailed("请提供用户名和密码", fields=bad)
    try:
        user = accounts.authenticate(body.get("username"), body.get("password"), ip=request.remote_addr)
    except DomainError:
        commit_before_error()  # remember the failure (lockout counts, audit) before answering
        raise
    token = accounts.issue_token(user, ip=request.remote_addr)
    return jsonify({"token": token}), 201


@bp.delete("/tokens/current")
@token_required
def revoke_token():
    accounts.revoke_token(request.headers["Authorization"][len("Bearer "):].strip(), ip=request.remote_addr)
    return "", 204


@bp.get("/me")
@token_required
def me():
    user = g.api_user
    office = db.session.get(Office, user.home_office_id) if user.home_office_id else None
    sections = db.session.scalars(select(Section.code).join(SectionMember, SectionMember.section_id == Section.id)
                                  .where(SectionMember.user_id == user.id).distinct().order_by(Section.code)).all()
    return jsonify({"username": user.username, "name": user.display_name, "roles": user.roles,
                    "unit": user.unit.code if user.unit else None,
                    "office": office.as_dict() if office else None, "sections": sections,
                    "department": user.partner_department.code if user.partner_department else None})


@bp.get("/offices")
@token_required
def list_offices():
    """The offices the caller may see, as a tree: bureau staff their office and every office below
    it; anyone else the office they belong to."""
    user = g.api_user
    if user.reads_all_units or user.has_role("admin"):
        root = user.office_id
        return jsonify(organisation.tree([root]) if root else [])
    office = user.home_office_id
    return jsonify([{**db.session.get(Office, office).as_dict(), "children": []}] if office else [])


@bp.get("/processes")
@token_required
def list_processes():
    return jsonify([{"key": v.key, "name": v.name, "version": v.version} for v in processes.startable(g.api_user)])


@bp.post("/cases")
@token_required
def start_case():
    body = json_body()
    if not isinstance(body.get("process"), str):
        raise ValidationFailed("缺少 process（业务流程）", fields={"process": ["必填"]})
    if not isinstance(body.get("data", {}), dict):
        raise ValidationFailed("data 必须是 JSON 对象", fields={"data": ["应为对象"]})
    case = cases.start_case(g.api_user, body["process"], body.get("data") or {}, ip=request.remote_addr)
    answer = _case_json(case)
    return jsonify(answer), 201


@bp.get("/cases")
@token_required
def list_cases():
    query = cases.visible_cases(g.api_user).order_by(Case.id.desc()).limit(200)
    return jsonify([CaseSchema(exclude=("tasks", "history")).dump(c) for c in db.session.scalars(query)])


@bp.get("/cases/<int:case_id>")
@token_required
def get_case(case_id):
    return jsonify(_case_json(cases.get_case(g.api_user, case_id)))


@bp.post("/cases/<int:case_id>/attachments")
@token_required
def add_attachments(case_id):
    case = cases.get_case(g.api_user, case_id)
    files = [(f.filename or "", f.read()) for f in request.files.getlist("file")]
    if not files:
        raise ValidationFailed("请以 multipart 字段 file 上传附件", fields={"file": ["必填"]})
    cases.add_attachments(g.api_user, case, files, ip=request.remote_addr)
    return jsonify(AttachmentSchema(many=True).dump(case_attachments(case))), 201


@bp.post("/cases/<int:case_id>/withdraw")
@token_required
def withdraw_case(case_id):
    case = cases.withdraw_case(g.api_user, case_id, ip=request.remote_addr)
    return jsonify(_case_json(case)), 200


# GET /tasks (the inbox, filtered and paged), claim/release/transfer, urge, cc and notifications
# are in api/inbox.py.


@bp.get("/tasks/<task_id>")
@token_required
def get_task(task_id):
    task = cases.get_task(g.api_user, task_id)
    return jsonify(TaskSchema().dump(task))


@bp.post("/tasks/<task_id>/complete")
@token_required
def complete_task(task_id):
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        # the scope gate answers first (404 for another unit's task), as on every other route;
        # a good request gets the same check from complete_task on the rows it locks
        cases.require_task_visible(g.api_user, task_id)
        json_body()  # 422 bad_json unless the body is a JSON object
        raise ValidationFailed("缺少 data（表单数据）对象", fields={"data": ["必填，应为对象"]})
    case = cases.complete_task(g.api_user, task_id, data, ip=request.remote_addr)
    return jsonify(_case_json(case)), 200


@bp.get("/cases/<int:case_id>/notices")
@token_required
def case_notices(case_id):
    case = cases.get_case(g.api_user, case_id)
    return jsonify(NoticeSchema(many=True).dump(notices.notices_of(case)))


@bp.get("/notices/<int:notice_id>.pdf")
@token_required
def notice_pdf(notice_id):
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("通知书不存在")
    cases.get_case(g.api_user, notice.case_id)
    pdf = notices.pdf_of(notice)
    record(g.api_user, "notice.download", f"case:{notice.case_id}", ip=request.remote_addr, notice=notice.id)
    return send_file(BytesIO(pdf), mimetype="application/pdf", download_name=f"{notice.case.number}-{notice.title}.pdf")


@bp.get("/units/<code>")
@token_required
def get_unit(code):
    unit = ledger.visible_unit(g.api_user, code, "只能查看本单位的机构信息")
    departments = db.session.scalars(select(Department.name).where(Department.unit_id == unit.id)
                                     .order_by(Department.id)).all()
    return jsonify({"code": unit.code, "name": unit.name, "parent": unit.parent.code if unit.parent else None,
                    "parent_name": unit.parent.name if unit.parent else None,
                    "kind": unit.kind, "level": unit.level, "nature": unit.nature, "funding": unit.funding,
                    "system": unit.system, "founded": unit.founded.isoformat() if unit.founded else None,
                    "document": unit.approval_doc, "departments": departments,
                    "status": unit.status, "abolished_on": unit.abolished_on.isoformat() if unit.abolished_on else None,
                    "merged_into": unit.merged_into.code if unit.merged_into else None, "functions": unit.functions})


@bp.get("/units/<code>/establishment")
@token_required
def establishment(code):
    unit = ledger.visible_unit(g.api_user, code)
    return jsonify(ledger.figures(unit))
