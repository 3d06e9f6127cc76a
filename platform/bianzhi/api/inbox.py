"""The inbox over the API: tasks filtered and keyset-paged, claim / release / transfer, urge
and copy a case, notifications. Same operations as the pages."""
from flask import Blueprint, g, jsonify, request, url_for

from ..errors import ValidationFailed
from ..extensions import csrf
from ..inbox import assignment, followup
from ..inbox import operations as inbox
from ..notifications import operations as notifications
from .schemas import NotificationSchema, TaskSchema
from .views import json_body, token_required

bp = Blueprint("api_inbox", __name__, url_prefix="/api/v1")
csrf.exempt(bp)



def _limit(default, maximum):
    raw = request.args.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(f"limit 应为 1–{maximum} 的整数", fields={"limit": ["无效"]})
    return int(raw)


@bp.get("/tasks")
@token_required
def list_tasks():
    """My inbox, most urgent first. Filters: process, unit, due, q, scope. Paging: the next
    page's cursor is in the X-Next-Cursor header (and a Link rel="next"); pass it as `after`."""
    filters = inbox.Filters.from_args(request.args)
    tasks, cursor = inbox.page(g.api_user, filters, after=request.args.get("after"),
                               limit=_limit(inbox.API_PAGE_MAX, inbox.API_PAGE_MAX))
    response = jsonify(TaskSchema(many=True).dump(tasks))
    if cursor:
        args = {**request.args.to_dict(), "after": cursor}
        response.headers["X-Next-Cursor"] = cursor
        response.headers["Link"] = f'<{url_for("api_inbox.list_tasks", **args)}>; rel="next"'
    return response


def _task_answer(task):
    return TaskSchema().dump(task)


@bp.post("/tasks/<task_id>/claim")
@token_required
def claim(task_id):
    answer = _task_answer(assignment.claim(g.api_user, task_id, ip=request.remote_addr))
    return jsonify(answer)


@bp.post("/tasks/<task_id>/release")
@token_required
def release(task_id):
    answer = _task_answer(assignment.release(g.api_user, task_id, ip=request.remote_addr))
    return jsonify(answer)


@bp.post("/tasks/<task_id>/transfer")
@token_required
def transfer(task_id):
    body = json_body()
    if not isinstance(body.get("to"), str):
        raise ValidationFailed("缺少 to（转办对象的用户名）", fields={"to": ["必填"]})
    note = body.get("note") if isinstance(body.get("note"), str) else None
    answer = _task_answer(assignment.transfer(g.api_user, task_id, body["to"], note, ip=request.remote_addr))
    return jsonify(answer)


@bp.post("/cases/<int:case_id>/urge")
@token_required
def urge(case_id):
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", code="bad_json")
    rows = followup.urge(g.api_user, case_id, body.get("task_id") or None,
                         body.get("note") if isinstance(body.get("note"), str) else None, ip=request.remote_addr)
    answer = [{"task_id": r.task_id, "step": r.step, "at": r.at.isoformat() + "+00:00"} for r in rows]
    return jsonify(answer), 201


@bp.post("/cases/<int:case_id>/cc")
@token_required
def copy(case_id):
    body = json_body()
    to = body.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list):
        raise ValidationFailed("缺少 to（抄送对象的用户名列表）", fields={"to": ["必填，应为用户名列表"]})
    rows = followup.copy_case(g.api_user, case_id, to, body.get("note") if isinstance(body.get("note"), str) else None,
                              ip=request.remote_addr)
    answer = [{"to": r.user.username, "at": r.at.isoformat() + "+00:00"} for r in rows]
    return jsonify(answer), 201


@bp.get("/notifications")
@token_required
def list_notifications():
    """Newest first; `unread=1` for unread only; `before=<id>` for the next page."""
    before = request.args.get("before")
    if before is not None and not before.isdigit():
        raise ValidationFailed("before 应为整数", fields={"before": ["无效"]})
    rows = notifications.listing(g.api_user, unread_only=request.args.get("unread") in ("1", "true"),
                                 before=before, limit=_limit(notifications.PAGE, 200))
    response = jsonify(NotificationSchema(many=True).dump(rows))
    response.headers["X-Unread-Count"] = str(notifications.unread_count(g.api_user))
    return response


@bp.post("/notifications/read")
@token_required
def read_notifications():
    """Mark {"id": N} read, or all when no id is given."""
    body = request.get_json(silent=True) or {}
    notification_id = body.get("id") if isinstance(body, dict) else None
    if notification_id is not None and (not isinstance(notification_id, int) or isinstance(notification_id, bool)):
        raise ValidationFailed("id 应为整数", fields={"id": ["无效"]})
    count = notifications.mark_read(g.api_user, notification_id)
    return jsonify({"marked": count})
