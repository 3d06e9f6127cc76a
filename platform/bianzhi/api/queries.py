"""The query builder over the API: run a definition (or a saved query), list saved queries.
Same operations, same scope and masking as the pages."""

from flask import Blueprint, g, jsonify

from ..errors import ValidationFailed
from ..extensions import csrf
from ..queries import operations as queries
from ..util import utc_iso
from .views import json_body, token_required

bp = Blueprint("api_queries", __name__, url_prefix="/api/v1")
csrf.exempt(bp)



def _optional(body, key, kind, label):
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValidationFailed(f"{key}（{label}）类型不正确", fields={key: ["类型不正确"]})
    return value


@bp.post("/queries/run")
@token_required
def run_query():
    """{"target": "person"|"unit", "definition": {...}} or {"saved": id}; page (50 rows), sort, order."""
    body = json_body()
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


def _saved_json(saved, user):
    return {"id": saved.id, "name": saved.name, "target": saved.target, "definition": saved.definition,
            "shared": saved.shared, "mine": saved.owner_id == user.id, "owner": saved.owner.display_name,
            "created_at": utc_iso(saved.created_at)}


@bp.get("/queries")
@token_required
def list_saved():
    return jsonify([_saved_json(s, g.api_user) for s in queries.visible_saved(g.api_user)])


@bp.post("/queries")
@token_required
def save_query():
    """{"name", "target", "definition", "shared"}: the definition is checked by running it."""
    body = json_body()
    target = body.get("target", "person")
    if not isinstance(target, str):
        raise ValidationFailed("target（查询对象）应为 person 或 unit", fields={"target": ["无效"]})
    shared = body.get("shared", False)
    if not isinstance(shared, bool):
        raise ValidationFailed("shared（是否共享）应为 true 或 false", fields={"shared": ["无效"]})
    saved = queries.save(g.api_user, body.get("name"), target, body.get("definition"), shared=shared)
    saved.owner = g.api_user
    answer = _saved_json(saved, g.api_user)
    return jsonify(answer), 201
