"""流程设计: the pages (process list and upload, versions with diff and rollback, moving running
cases) and the JSON the browser uses: the modeler's draft, validate and deploy, and the case
diagram viewer's diagram.json. Session-cookie auth with CSRF (JSON fetches send X-CSRFToken);
the JSON routes answer errors as {"error": {"code", "message", "fields"}}."""
import json
from functools import wraps

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import DefinitionError, DomainError, NotFound, Unauthorized, ValidationFailed
from ..web.errors import JSON_ENDPOINTS
from ..web.transaction import refused
from . import diagrams, drafts, migration
from .diff import compare
from ..util import key_int

bp = Blueprint("design", __name__)
JSON_ENDPOINTS.update({"design.draft", "design.save_draft", "design.validate", "design.deploy",
                       "design.case_diagram"})


def signed_in(view):
    """For JSON routes: 401 as JSON instead of a redirect to the login page."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            raise Unauthorized("请先登录", code="login_required")
        return view(*args, **kwargs)
    return wrapper


def _body(optional=False):
    if optional and not request.get_data():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", code="bad_json")
    return body


def _finding(f):
    return {"element": f.element, "name": f.name, "message": f.message}


def _findings_of(exc):
    found = getattr(exc, "findings", None)
    if found is not None:
        return [_finding(f) for f in found]
    return [{"element": element, "name": "", "message": message}
            for element, messages in exc.fields.items() for message in messages]


def _flash_error(exc):
    details = "；".join(m for messages in exc.fields.values() for m in (messages if isinstance(messages, list)
                                                                     else [messages]))
    flash(f"{exc.message}{'：' + details if details else ''}", "error")


# --- pages -------------------------------------------------------------------------------

@bp.get("/design")
@login_required
def index():
    rows = [(key, name, version, draft, migration.running_counts(key)) for key, name, version, draft
            in drafts.overview()]
    return render_template("design/index.html", rows=rows)


@bp.post("/design/upload")
@login_required
def upload():
    file = request.files.get("file")
    if file is None or not file.filename:
        flash("请选择要上传的 .bpmn 文件", "error")
        return redirect(url_for("design.index"))
    try:
        draft = drafts.upload_draft(current_user, file.filename, file.read(), ip=request.remote_addr)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        refused(exc)  # the redirect below commits nothing of it
        _flash_error(exc)
        return redirect(url_for("design.index"))
    flash(f"已保存为流程 {draft.key} 的草稿；校验通过后由系统管理员部署", "success")
    return redirect(url_for("design.modeler", key=draft.key))


@bp.get("/design/<key>")
@login_required
def modeler(key):
    if drafts.get_draft(key) is None and drafts.newest(key) is None:
        raise NotFound(f"没有名为 {key} 的业务流程")
    return render_template("design/modeler.html", key=key)


@bp.get("/design/<key>/versions")
@login_required
def versions(key):
    rows = drafts.versions(key)
    draft = drafts.get_draft(key)
    a, b = key_int(request.args.get("a")), request.args.get("b", default="")
    if a is None and len(rows) >= 2:
        a, b = rows[1].version, str(rows[0].version)
    elif a is None and rows and draft is not None:
        a, b = rows[0].version, "draft"
    diff = left = right = None
    if a is not None and b:
        left = drafts.get_version(key, a)
        if b == "draft":
            if draft is None:
                raise NotFound(f"流程 {key} 没有草稿")
            right = draft
            diff = compare(left.bpmn_xml, draft.bpmn_xml, left.forms_json,
                           drafts.forms_for(draft.bpmn_xml, json.loads(draft.forms_json or "{}")))
        elif b.isdigit():
            right = drafts.get_version(key, int(b))
            diff = compare(left.bpmn_xml, right.bpmn_xml, left.forms_json, right.forms_json)
    return render_template("design/versions.html", key=key, versions=rows, draft=draft,
                           counts=migration.running_counts(key), diff=diff, left=left, right=right,
                           a=a, b=b, name=rows[0].name if rows else (draft.name if draft else key))


@bp.post("/design/<key>/versions/<int:number>/rollback")
@login_required
def rollback(key, number):
    try:
        version = drafts.rollback(current_user, key, number, request.form.get("comment"), ip=request.remote_addr)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        refused(exc)
        _flash_error(exc)
    else:
        flash(f"已回滚：第 {number} 版的内容已部署为第 {version.version} 版", "success")
    return redirect(url_for("design.versions", key=key))


@bp.route("/design/<key>/migrate", methods=["GET", "POST"])
@login_required
def migrate(key):
    rows = drafts.versions(key)
    if not rows:
        raise NotFound(f"流程 {key} 还没有部署过")
    from_number = key_int(request.values.get("from"))
    if request.method == "POST":
        try:
            target, moved, stayed = migration.move(current_user, key, from_number, ip=request.remote_addr)
        except DomainError as exc:
            if exc.status not in (409, 422):
                raise
            refused(exc)
            _flash_error(exc)
        else:
            flash(f"已将 {len(moved)} 件案件迁移到第 {target.version} 版"
                  + (f"；{len(stayed)} 件不能迁移，仍按原版本办理" if stayed else ""), "success")
        return redirect(url_for("design.migrate", key=key, **{"from": from_number}))
    plan = None
    if from_number is not None:
        try:
            plan = migration.plan(current_user, key, from_number)
        except ValidationFailed as exc:
            _flash_error(exc)
    return render_template("design/migrate.html", key=key, versions=rows, newest=rows[0], plan=plan,
                           from_number=from_number, counts=migration.running_counts(key))


# --- JSON --------------------------------------------------------------------------------

@bp.get("/design/<key>/draft.json")
@signed_in
def draft(key):
    return jsonify(drafts.design_view(current_user, key))


@bp.put("/design/<key>/draft.json")
@signed_in
def save_draft(key):
    body = _body()
    drafts.save_draft(current_user, key, body.get("bpmn"), body.get("forms"), ip=request.remote_addr)
    return jsonify(drafts.design_view(current_user, key))


@bp.post("/design/<key>/validate")
@signed_in
def validate(key):
    body = _body(optional=True)
    findings = drafts.validate(current_user, key, body.get("bpmn"), body.get("forms"))
    return jsonify({"ok": not findings, "findings": [_finding(f) for f in findings]})


@bp.post("/design/<key>/deploy")
@signed_in
def deploy(key):
    body = _body(optional=True)
    try:
        version = drafts.deploy_draft(current_user, key, body.get("comment"), ip=request.remote_addr)
    except DefinitionError as exc:
        refused(exc)
        return jsonify({**exc.as_json(), "findings": _findings_of(exc)}), exc.status
    return jsonify({"key": version.key, "version": version.version}), 201


@bp.get("/cases/<int:case_id>/diagram.json")
@signed_in
def case_diagram(case_id):
    return jsonify(diagrams.case_diagram(current_user, case_id))
