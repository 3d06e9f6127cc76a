"""Notifying people: a row for the bell always, an e-mail job when the platform has a mail
server (MAIL_SERVER) and the user gave an address. Plain functions: they flush, never commit."""
import re

from flask import current_app
from sqlalchemy import func, select, update

from .. import clock
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..inbox.models import Job
from .models import MailAddress, Notification

EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
PAGE = 50
MAX_ID = 2 ** 31  # ids are 32-bit integers: anything larger names nothing


def notify(users, kind, title, body=None, case=None, link=None, exclude=None):
    """One notification per distinct active user (never to `exclude`, the one who acted).
    Returns the rows."""
    seen, rows = set(), []
    for user in users:
        if user is None or user.id in seen or not user.active or (exclude is not None and user.id == exclude.id):
            continue
        seen.add(user.id)
        rows.append(Notification(user_id=user.id, kind=kind, title=title[:200], body=body,
                                 case_id=case.id if case is not None else None,
                                 link=link or (f"/cases/{case.id}" if case is not None else None),
                                 created_at=clock.now()))
    if not rows:
        return rows
    db.session.add_all(rows)
    db.session.flush()
    if current_app.config.get("MAIL_SERVER"):
        addresses = dict(db.session.execute(select(MailAddress.user_id, MailAddress.email).where(
            MailAddress.user_id.in_([r.user_id for r in rows]), MailAddress.enabled.is_(True))).all())
        for row in rows:
            if row.user_id in addresses:
                db.session.add(Job(kind="mail", key=f"mail:{row.id}", run_at=row.created_at,
                                   payload={"notification_id": row.id, "to": addresses[row.user_id]}))
        db.session.flush()
    return rows


def unread_count(user):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))


def listing(user, unread_only=False, before=None, limit=PAGE):
    """The user's notifications, newest first; `before` an id for the next page."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if before:
        query = query.where(Notification.id < min(int(before), MAX_ID))
    return db.session.scalars(query.order_by(Notification.id.desc()).limit(limit)).all()


def mark_read(user, notification_id=None):
    """Mark one notification (or, without an id, all of them) read. Returns how many."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        get(user, notification_id)
        query = query.where(Notification.id == notification_id)
    count = db.session.execute(query.values(read_at=clock.now())).rowcount
    db.session.flush()
    return count


def get(user, notification_id):
    if not isinstance(notification_id, int) or not 0 < notification_id < MAX_ID:
        raise NotFound("通知不存在")
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound("通知不存在")
    return row


def mail_address(user):
    return db.session.get(MailAddress, user.id)


def set_mail_address(user, email, enabled=True):
    """The address a user's notifications are copied to; empty removes it."""
    email = (email or "").strip()
    row = db.session.get(MailAddress, user.id)
    if not email:
        if row is not None:
            db.session.delete(row)
            db.session.flush()
        return None
    if len(email) > 254 or not EMAIL.match(email):
        raise ValidationFailed("电子邮箱地址格式不正确", fields={"email": ["请填写如 name@example.gov.cn 的地址"]})
    if row is None:
        row = MailAddress(user_id=user.id, email=email)
        db.session.add(row)
    row.email, row.enabled, row.updated_at = email, bool(enabled), clock.now()
    db.session.flush()
    return row
