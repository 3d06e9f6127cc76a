"""Pages: 待办 (filters, saved filters, paging), 已办, 我发起, 抄送, 业务提醒, 委托; claim, release,
transfer, urge and copy forms; the counts in the navigation."""
from urllib.parse import urlencode

from flask import Blueprint, flash, has_request_context, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import DomainError, ValidationFailed
from ..extensions import db
from ..notifications import operations as notifications
from ..security import safe_next
from ..web.transaction import refused
from . import assignment, followup, reminders
from . import operations as inbox
from .models import CaseCopy
from ..util import key_int

bp = Blueprint("inbox", __name__)


@bp.app_context_processor
def navigation():
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    return {"inbox_count": inbox.count(current_user), "unread_count": notifications.unread_count(current_user),
            "cc_unread": inbox.unread_copies(current_user), "count_cap": inbox.COUNT_CAP}


@bp.app_template_global()
def case_followup(case):
    """What the case page offers the current user beyond the task itself (urge, copy) and what
    was done so far."""
    return {"can_urge": followup.can_urge(current_user, case), "can_copy": followup.can_copy(current_user, case),
            "urges": followup.urges_of(case), "copies": followup.copied_to(case)}


@bp.app_template_global()
def task_colleagues(task):
    return [u for u in assignment.colleagues(task) if u.id != current_user.id]


def _back(default):
    """Return to the page the form was on (same site only)."""
    return redirect(safe_next(request.form.get("next"), default))


def _act(fn, success, default):
    try:
        result = fn()
    except DomainError as exc:
        refused(exc)  # the redirect back commits nothing of it
        flash(exc.message + ("：" + "；".join(sum((v if isinstance(v, list) else [str(v)]
                                                 for v in exc.fields.values()), [])) if exc.fields else ""),
              "error")
        return _back(default)
    flash(success(result) if callable(success) else success, "success")
    return _back(default)


@bp.get("/inbox")
@login_required
def index():
    saved = inbox.saved_filters(current_user)
    chosen = key_int(request.args.get("saved"))
    source = next((s.query for s in saved if s.id == chosen), None) if chosen else None
    try:
        filters = inbox.Filters.from_args(source if source is not None else request.args)
        tasks, next_cursor = inbox.page(current_user, filters, after=request.args.get("after"), limit=inbox.PAGE)
    except ValidationFailed as exc:
        flash(exc.message, "error")
        filters, (tasks, next_cursor) = inbox.Filters(), inbox.page(current_user, inbox.Filters())
    next_url = url_for("inbox.index", **filters.as_dict(), after=next_cursor) if next_cursor else None
    return render_template("inbox/list.html", tasks=tasks, filters=filters, saved=saved, chosen=chosen,
                           choices=inbox.filter_choices(current_user), next_url=next_url,
                           paged=bool(request.args.get("after")), query=urlencode(filters.as_dict()))


@bp.post("/inbox/filters")
@login_required
def save_filter():
    filters = inbox.Filters.from_args(request.form)
    return _act(lambda: inbox.save_filter(current_user, request.form.get("name"), filters),
                lambda row: f"已保存筛选条件「{row.name}」", url_for("inbox.index", **filters.as_dict()))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id):
    return _act(lambda: inbox.delete_filter(current_user, filter_id), "已删除筛选条件", url_for("inbox.index"))


@bp.get("/inbox/done")
@login_required
def done():
    items, before = inbox.done(current_user, before=request.args.get("before"))
    return render_template("inbox/done.html", items=items, before=before)


@bp.get("/inbox/started")
@login_required
def started():
    rows, before = inbox.started(current_user, before=request.args.get("before"))
    return render_template("inbox/started.html", cases=rows, before=before)


@bp.get("/inbox/cc")
@login_required
def copies():
    rows, before = inbox.copies(current_user, before=request.args.get("before"))
    return render_template("inbox/copies.html", copies=rows, before=before)


@bp.get("/inbox/cc/<int:copy_id>")
@login_required
def open_copy(copy_id):
    row = db.session.get(CaseCopy, copy_id)
    if row is None or row.user_id != current_user.id:
        return redirect(url_for("inbox.copies"))
    inbox.mark_copies_read(current_user, row.case_id)
    return redirect(url_for("web.case_detail", case_id=row.case_id))


@bp.get("/reminders")
@login_required
def reminder_page():
    months = request.args.get("months", type=int)
    if months is not None and not 1 <= months <= 36:
        flash("月数应在 1–36 之间", "error")
        months = None
    return render_template("inbox/reminders.html", **reminders.for_user(current_user, months))


@bp.route("/delegations", methods=["GET", "POST"])
@login_required
def delegations():
    if request.method == "POST":
        form = request.form
        return _act(lambda: assignment.delegate(current_user, form.get("to"), form.get("start_date"),
                                                form.get("end_date"), form.get("note"), ip=request.remote_addr),
                    lambda row: f"已委托{row.delegate.display_name}在 {row.start_date} 至 {row.end_date} 代为办理",
                    url_for("inbox.delegations"))
    given, received = assignment.delegations(current_user)
    candidates = assignment.users_with_roles(assignment.DELEGATING_ROLES, current_user.office_id)
    return render_template("inbox/delegations.html", given=given, received=received,
                           candidates=[u for u in candidates if u.id != current_user.id])


@bp.post("/delegations/<int:delegation_id>/revoke")
@login_required
def revoke_delegation(delegation_id):
    return _act(lambda: assignment.revoke(current_user, delegation_id, ip=request.remote_addr), "已撤销委托",
                url_for("inbox.delegations"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id):
    return _act(lambda: assignment.claim(current_user, task_id, ip=request.remote_addr),
                lambda t: f"已认领：{t.case.number} {t.name}", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id):
    return _act(lambda: assignment.release(current_user, task_id, ip=request.remote_addr),
                lambda t: f"已释放：{t.case.number} {t.name}，同组同事可以认领", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/transfer")
@login_required
def transfer(task_id):
    # after a transfer the task is no longer ours: the form sends us back to the inbox
    return _act(lambda: assignment.transfer(current_user, task_id, request.form.get("to"),
                                            request.form.get("note"), ip=request.remote_addr),
                lambda t: f"已转办给{t.assignee.display_name}：{t.case.number} {t.name}", url_for("inbox.index"))


@bp.post("/cases/<int:case_id>/urge")
@login_required
def urge(case_id):
    return _act(lambda: followup.urge(current_user, case_id, request.form.get("task_id") or None,
                                      request.form.get("note"), ip=request.remote_addr),
                lambda rows: "已催办：" + "、".join(r.step for r in rows),
                url_for("web.case_detail", case_id=case_id))


@bp.post("/cases/<int:case_id>/cc")
@login_required
def copy(case_id):
    names = [n for n in request.form.getlist("to") if n] or \
        [n.strip() for n in (request.form.get("to_list") or "").replace("，", ",").split(",") if n.strip()]
    return _act(lambda: followup.copy_case(current_user, case_id, names, request.form.get("note"),
                                           ip=request.remote_addr),
                lambda rows: f"已抄送 {len(rows)} 人", url_for("web.case_detail", case_id=case_id))
