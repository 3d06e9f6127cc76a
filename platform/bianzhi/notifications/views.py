"""The notifications page (the bell's target), marking read, and the e-mail address."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import DomainError
from ..web.transaction import refused
from . import operations as notifications
from ..util import key_int

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    rows = notifications.listing(current_user, unread_only=unread_only, before=key_int(request.args.get("before")))
    before = rows[-1].id if len(rows) == notifications.PAGE else None
    return render_template("notifications/list.html", rows=rows, unread_only=unread_only, before=before,
                           address=notifications.mail_address(current_user),
                           mail_on=bool(current_app.config.get("MAIL_SERVER")))


@bp.post("/<int:notification_id>/open")
@login_required
def open_one(notification_id):
    row = notifications.get(current_user, notification_id)
    notifications.mark_read(current_user, notification_id)
    link = row.link if row.link and row.link.startswith("/") and not row.link.startswith("//") else None
    return redirect(link or url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def read_all():
    count = notifications.mark_read(current_user)
    flash(f"已将 {count} 条通知标为已读", "success")
    return redirect(url_for("notifications.index"))


@bp.post("/email")
@login_required
def email():
    try:
        row = notifications.set_mail_address(current_user, request.form.get("email"),
                                             enabled=request.form.get("enabled") == "on")
    except DomainError as exc:
        refused(exc)
        flash(exc.message, "error")
    else:
        flash(f"通知将同时发送到 {row.email}" if row and row.enabled else "已停止邮件通知", "success")
    return redirect(url_for("notifications.index"))
