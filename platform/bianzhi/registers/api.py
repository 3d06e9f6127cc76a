"""JSON API over the unit register: create a unit, adjust a unit's establishment. Same rules
as the pages (ledger/units.py); bearer tokens (api.views.token_required)."""
from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from ..api.views import json_body, token_required
from ..errors import ValidationFailed
from ..extensions import csrf, db
from ..ledger import operations as ledger
from ..ledger import establishment as adjusting
from ..ledger import units as lifecycle
from ..ledger.models import Unit
from .views import as_date

bp = Blueprint("units_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)



def _approval(body, default_title):
    doc = body.get("document")
    if not isinstance(doc, dict):
        raise ValidationFailed("缺少 document（批准文件：number 文号、date 日期、title 标题）",
                               fields={"document": ["必填，应为对象"]})
    return lifecycle.approval_from({"doc_number": doc.get("number"), "doc_date": doc.get("date"),
                                    "doc_title": doc.get("title")}, default_title=default_title)


def _text(body, key):
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{key} 应为文字", fields={key: ["应为文字"]})
    return value


def unit_json(unit):
    return {"code": unit.code, "name": unit.name, "parent": unit.parent.code if unit.parent else None,
            "kind": unit.kind, "level": unit.level, "funding": unit.funding, "system": unit.system,
            "founded": unit.founded.isoformat() if unit.founded else None, "document": unit.approval_doc,
            "status": unit.status, "functions": unit.functions, "establishment": ledger.figures(unit)}


@bp.post("/units")
@token_required
def create_unit():
    body = json_body()
    fields = {k: _text(body, k) for k in ("code", "name", "kind", "parent", "level", "nature", "funding",
                                           "system", "functions")}
    approval = _approval(body, f"关于设立{fields['name'] or ''}的批复")
    parent = None
    if fields["parent"]:
        parent = db.session.scalar(select(Unit).where(Unit.code == fields["parent"].strip().upper(),
                                                      ledger.visible_units(g.api_user)))
        if parent is None:
            raise ValidationFailed(f"没有统一社会信用代码为 {fields['parent']} 的上级单位", fields={"parent": ["单位不存在"]})
    unit = lifecycle.create_unit(g.api_user, approval, fields["code"], fields["name"], fields["kind"], parent=parent,
                                 level=fields["level"], nature=fields["nature"], funding=fields["funding"],
                                 system=fields["system"], functions=fields["functions"], ip=request.remote_addr)
    answer = unit_json(unit)
    return jsonify(answer), 201


@bp.post("/units/<code>/establishment")
@token_required
def adjust_establishment(code):
    unit = ledger.visible_unit(g.api_user, code)  # 404 for another office's unit
    body = json_body()
    approved = body.get("approved")
    if not isinstance(approved, int) or isinstance(approved, bool):
        raise ValidationFailed("approved（调整后核定数）应为整数", fields={"approved": ["应为整数"]})
    category = _text(body, "category")
    absorb = as_date({"absorb_until": _text(body, "absorb_until")}, "absorb_until")
    approval = _approval(body, f"{unit.name}编制调整批复")
    adjusting.adjust_establishment(g.api_user, unit, category, approved, approval, absorb, ip=request.remote_addr)
    answer = unit_json(unit)
    answer["absorptions"] = [{"category": a["category"], "excess": a["excess"],
                              "target_date": a["target_date"].isoformat(),
                              "document": a["document"]} for a in lifecycle.absorption_warnings(unit)]
    return jsonify(answer), 200


@bp.post("/units/<code>/transfer")
@token_required
def transfer_establishment(code):
    """划转: {category, count, target (code), document, absorb_until?} from unit `code` to `target`."""
    source = ledger.visible_unit(g.api_user, code)
    body = json_body()
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValidationFailed("count（划转数）应为整数", fields={"count": ["应为整数"]})
    target = db.session.scalar(select(Unit).where(Unit.code == (_text(body, "target") or "").strip().upper(),
                                                  ledger.visible_units(g.api_user)))
    if target is None:
        raise ValidationFailed("target（划入单位的统一社会信用代码）不存在", fields={"target": ["单位不存在"]})
    absorb = as_date({"absorb_until": _text(body, "absorb_until")}, "absorb_until")
    approval = _approval(body, f"{source.name}编制划转批复")
    adjusting.transfer_establishment(g.api_user, source, target, _text(body, "category"), count, approval, absorb,
                                     ip=request.remote_addr)
    answer = {"source": unit_json(source), "target": unit_json(target)}
    return jsonify(answer), 200
