"""The query builder over the API: run a definition (or a saved query), list saved queries.
Same operations, same scope and masking as the pages."""
from datetime import timezone

from flask import Blueprint, g, jsonify, request

from ..errors import ValidationFailed
from ..extensions import csrf
from ..queries import operations as queries
from .views import token_required

bp = Blueprint("api_queries", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _json_body():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", code="bad_json")
    return body


def _optional(body, key, kind, label):
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValidationFailed(f"{key}（{label}）类型不正确", fields={key: ["类型不正确"]})
    return value


@bp.post("/queries/run")
@token_required
def run_query():
    """{"target": "person"|"unit", "definition": {...}} or {"saved": id}; page (50 rows), sort, order."""
    body = _json_body()
    saved_id = _optional(body, "saved", int, "已保存查询的编号")
    if saved_id is not None:
        saved = queries.get_saved(g.api_user, saved_id)
        target, definition = saved.target, saved.definition
    else:
        target, definition = body.get("target", "person"), body.get("definition")
        if not isinstance(target, str):
            raise ValidationFailed("target（查询对象）应为 person 或 unit", fields={"target": ["无效"]})
        if definition is None:
            raise ValidationFailed("缺少 definition（查询定义）或 saved（已保存查询的编号）",
                                   fields={"definition": ["必填"]})
    page = _optional(body, "page", int, "页码") or 1
    result = queries.run(g.api_user, target, definition, page=page, sort=_optional(body, "sort", str, "排序列"),
                         order=_optional(body, "order", str, "排序方向"))
    return jsonify({"target": result.target, "total": result.total, "page": result.page, "pages": result.pages,
                    "page_size": queries.PAGE_SIZE, "sort": result.sort, "order": result.order,
                    "columns": [{"key": k, "label": h} for k, h in zip(result.keys, result.header)],
                    "rows": [dict(zip(result.keys, row)) for row in result.rows]})


@bp.get("/queries")
@token_required
def list_saved():
    user = g.api_user
    return jsonify([{"id": s.id, "name": s.name, "target": s.target, "definition": s.definition,
                     "shared": s.shared, "mine": s.owner_id == user.id, "owner": s.owner.display_name,
                     "created_at": s.created_at.replace(tzinfo=timezone.utc).isoformat()} for s in queries.visible_saved(user)])
