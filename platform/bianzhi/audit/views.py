"""审计日志: auditors (and admins) search it and export it; nobody changes it."""
import json
from datetime import date, datetime, timedelta

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from ..accounts.models import User
from ..exports import csv_bytes
from ..extensions import db
from ..util import key_int, local
from .labels import action_label, detail_lines
from .models import AuditEntry
from .operations import record, scope_clause

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 100


def _date(name):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _query():
    """The entries of the reader's office jurisdiction (operations.scope_clause), filtered."""
    query = (select(AuditEntry, User.username).outerjoin(User, User.id == AuditEntry.user_id)
             .where(scope_clause(current_user)))
    if request.args.get("username"):
        query = query.where(User.username == request.args["username"].strip())
    if request.args.get("action"):
        query = query.where(AuditEntry.action.startswith(request.args["action"].strip()))
    if request.args.get("target"):
        query = query.where(AuditEntry.target == request.args["target"].strip())
    if _date("from"):
        query = query.where(AuditEntry.at >= datetime.combine(_date("from"), datetime.min.time()) - timedelta(hours=8))
    if _date("to"):
        query = query.where(AuditEntry.at < datetime.combine(_date("to") + timedelta(days=1), datetime.min.time())
                            - timedelta(hours=8))
    return query.order_by(AuditEntry.id.desc())


@bp.get("")
@login_required
def search():
    before = key_int(request.args.get("before"))
    query = _query()
    if before:
        query = query.where(AuditEntry.id < before)
    rows = db.session.execute(query.limit(PAGE)).all()
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("audit/search.html", rows=rows, args=args, page=PAGE, action_label=action_label,
                           detail_lines=detail_lines,
                           next_before=rows[-1][0].id if len(rows) == PAGE else None)


@bp.get("/export.csv")
@login_required
def export():
    rows = db.session.execute(_query().limit(100_000)).all()
    body = csv_bytes(["编号", "时间（北京时间）", "用户", "操作", "对象", "详情", "地址", "哈希", "操作名称"],
                     [(e.id, local(e.at, "%Y-%m-%d %H:%M:%S"), username or "", e.action, e.target or "",
                       json.dumps(e.detail, ensure_ascii=False), e.ip or "", e.hash, action_label(e.action))
                      for e, username in rows])
    record(current_user, "audit.export", None, ip=request.remote_addr, rows=len(rows),  # last: see web.views.unit
           filters={k: v for k, v in request.args.items()})
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-log.csv"})
