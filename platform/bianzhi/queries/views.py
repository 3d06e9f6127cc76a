"""Pages: the query builder (自由组合查询) with saved and shared queries and Excel export, and
data quality (数据质量): rules, check now, findings open and fixed."""
import json

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from ..audit.operations import record as audit
from ..errors import ValidationFailed
from ..security import loads_json
from . import fields as qf
from . import operations as queries
from . import quality
from .forms import definition_from_args, rows_from_definition
from ..util import key_int

bp = Blueprint("queries", __name__)

RULE_EDITORS = ("reviewer", "admin")
SAVERS = ("unit_clerk", "reviewer", "leader", "admin")


_int = key_int


def _requested():
    """(target, definition, saved query or None) of this request."""
    saved_id = request.args.get("saved")
    if saved_id:
        saved = queries.get_saved(current_user, _int(saved_id))
        return saved.target, saved.definition, saved
    if not request.args:  # a fresh page: the people on roll, the usual start
        return "person", {"op": "and", "items": [{"field": "person.status", "op": "eq", "value": "on_roll"}]}, None
    target, definition = definition_from_args(request.args)
    return target, definition, None


def _form_state(target, definition):
    op, group_ops, rows, text = rows_from_definition(definition)
    for row in rows:  # stored values as the form shows them (on_roll → 在编)
        field = qf.field_for(target, row["field"])
        if field is not None and field.labels:
            row["value"] = ",".join(field.labels.get(v, v) for v in row["value"].split(","))
    blank = {"field": "", "op": "eq", "value": "", "value2": "", "group": ""}
    rows = rows + [dict(blank) for _ in range(max(2, 3 - len(rows)))]
    return {"op": op, "group_ops": group_ops, "rows": rows[:queries.MAX_CONDITIONS + 3], "json_text": text}


@bp.get("/queries/builder")
@login_required
def builder():
    target, definition, saved = _requested()
    if target not in qf.TARGETS:
        target = "person"
    error, result, status = None, None, 200
    try:
        result = queries.run(current_user, target, definition, page=max(_int(request.args.get("page")) or 1, 1),
                             sort=request.args.get("sort"), order=request.args.get("order"))
    except ValidationFailed as exc:
        error, status = exc, 422
    definition_json = json.dumps(definition, ensure_ascii=False)
    # paging, sorting and export keep naming the saved query (its name shows; its export is audited as it)
    link_args = {"saved": saved.id} if saved else {"target": target, "definition": definition_json}
    return render_template(
        "queries/builder.html", target=target, fields=list(qf.FIELDS[target].values()), operators=qf.OPERATORS,
        targets=qf.TARGETS, sortable=qf.SORTABLE[target], form=_form_state(target, definition), result=result, error=error, saved=saved,
        link_args=link_args, definition_json=definition_json, saved_queries=queries.visible_saved(current_user),
        scope=queries.scope_of(current_user),
        may_save=current_user.has_role(*SAVERS), may_edit_rules=current_user.has_role(*RULE_EDITORS),
        severities=quality.SEVERITY), status


@bp.get("/queries/builder.xlsx")
@login_required
def export():
    target, definition, saved = _requested()
    out, rows = queries.export(current_user, target, definition, sort=request.args.get("sort"),
                               order=request.args.get("order"))
    try:  # exporting people's records is itself on the record (committed before the file leaves)
        audit(current_user, "query.export", f"query:{saved.id}" if saved else "query", ip=request.remote_addr,
              target_kind=target, definition=definition, rows=rows)
    except BaseException:
        out.close()
        raise
    return send_file(out, mimetype=queries.XLSX, as_attachment=True, max_age=0,
                     download_name=f"{saved.name if saved else '组合查询'}.xlsx")


def _posted_definition():
    text = request.form.get("definition") or ""
    try:
        definition = loads_json(text) if text.strip() else None
    except ValueError:
        definition = None
    if definition is None:
        raise ValidationFailed("缺少查询定义：请先在组合查询页面设置条件", fields={"definition": ["必填"]})
    return request.form.get("target") or "", definition


@bp.post("/queries/saved")
@login_required
def save_query():
    target, definition = _posted_definition()
    saved = queries.save(current_user, request.form.get("name"), target, definition,
                         shared=request.form.get("shared") in ("on", "1", "true"))
    saved_id, name = saved.id, saved.name
    flash(f"已保存查询“{name}”", "success")
    return redirect(url_for("queries.builder", saved=saved_id))


@bp.post("/queries/saved/manage")
@login_required
def manage_saved():
    query_id, action = _int(request.form.get("id")), request.form.get("action")
    if action == "rename":
        queries.rename(current_user, query_id, request.form.get("name"))
        message = "已重命名"
    elif action in ("share", "unshare"):
        saved = queries.set_shared(current_user, query_id, action == "share")
        audit(current_user, f"query.{action}", f"query:{saved.id}", ip=request.remote_addr, name=saved.name)
        message = "已共享给本编办人员" if action == "share" else "已取消共享"
    elif action == "delete":
        queries.delete(current_user, query_id)
        message = "已删除"
    else:
        queries.get_saved(current_user, query_id)  # 404 for a query the user cannot see
        raise ValidationFailed("不认识的操作：应为重命名、共享、取消共享或删除", fields={"action": ["无效"]})
    flash(message, "success")
    return redirect(url_for("queries.builder"))


# -- data quality ------------------------------------------------------------------------------------

@bp.get("/quality")
@login_required
def quality_page():
    rules = quality.rules_with_counts(current_user)
    return render_template("queries/quality.html", rules=rules, scope=queries.scope_of(current_user),
                           switchable={rule.id for rule, _ in rules if quality.may_switch(current_user, rule)},
                           builtin_codes=quality.BUILTIN_RULES,
                           open_findings=quality.open_findings(current_user),
                           by_unit=quality.open_by_unit(current_user),
                           fixed=quality.fixed_findings(current_user), severities=quality.SEVERITY,
                           targets=qf.TARGETS, may_edit_rules=current_user.has_role(*RULE_EDITORS))


@bp.post("/quality/check")
@login_required
def quality_check():
    result = quality.check_now(current_user, ip=request.remote_addr)
    flash(f"已按 {result.rules} 条规则检查：新发现 {result.opened} 条，已整改 {result.fixed} 条，"
          f"仍未整改 {result.still_open} 条", "success")
    return redirect(url_for("queries.quality_page"))


@bp.post("/quality/rules")
@login_required
def create_rule():
    target, definition = _posted_definition()
    rule = quality.create_rule(current_user, request.form.get("name"), target, definition,
                               severity=request.form.get("severity") or "warning",
                               description=request.form.get("description"))
    audit(current_user, "quality.rule_create", f"quality_rule:{rule.code}", ip=request.remote_addr,
          name=rule.name, target_kind=target, definition=definition, severity=rule.severity)
    code = rule.code
    flash(f"已新增数据质量规则 {code}；点击“立即检查”生效", "success")
    return redirect(url_for("queries.quality_page"))


@bp.post("/quality/rules/manage")
@login_required
def manage_rule():
    action = request.form.get("action")
    if action == "seed":
        added = quality.ensure_builtin_rules(current_user)
        audit(current_user, "quality.rule_seed", "quality", ip=request.remote_addr, added=[r.code for r in added])
        message = f"已载入 {len(added)} 条内置规则"
    elif action in ("activate", "deactivate"):
        rule = quality.set_active(current_user, _int(request.form.get("id")), action == "activate")
        audit(current_user, f"quality.rule_{action}", f"quality_rule:{rule.code}", ip=request.remote_addr)
        message = f"规则 {rule.code} 已{'启用' if action == 'activate' else '停用'}"
    else:
        raise ValidationFailed("不认识的操作：应为启用、停用或载入内置规则", fields={"action": ["无效"]})
    flash(message, "success")
    return redirect(url_for("queries.quality_page"))
