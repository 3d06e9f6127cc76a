"""E-mail copies of notifications, sent by the worker through SMTP.

Settings (instance/config.py or the environment): MAIL_SERVER (none: no e-mail), MAIL_PORT
(25), MAIL_USE_TLS (STARTTLS), MAIL_USE_SSL, MAIL_USERNAME / MAIL_PASSWORD, MAIL_FROM,
MAIL_TIMEOUT (seconds). SMTP cannot take part in a database transaction: a message is sent at
least once (a worker killed between sending and recording it sends it again).
"""
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app

from ..extensions import db
from .models import Notification


def message(notification, to):
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = f"【{cfg.get('MAIL_SUBJECT_PREFIX', '编制业务审批平台')}】{notification.title}"
    msg["From"] = cfg.get("MAIL_FROM") or formataddr(("编制业务审批平台", "noreply@localhost"))
    msg["To"] = to
    msg["Message-ID"] = make_msgid(idstring=f"notification-{notification.id}")
    lines = [notification.title, ""]
    if notification.body:
        lines += [notification.body, ""]
    if notification.link:
        lines.append(cfg["PUBLIC_URL"].rstrip("/") + notification.link)
    lines += ["", "此邮件由系统自动发送，请勿回复。"]
    msg.set_content("\n".join(lines))
    return msg


def send(payload):
    """Send the e-mail copy of one notification (a worker job's payload)."""
    cfg = current_app.config
    notification = db.session.get(Notification, payload["notification_id"])
    if notification is None:
        return
    msg = message(notification, payload["to"])
    db.session.rollback()  # nothing of ours stays open while we talk to the mail server
    host, port, timeout = cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT") or 25), float(cfg.get("MAIL_TIMEOUT", 30))
    smtp_class = smtplib.SMTP_SSL if cfg.get("MAIL_USE_SSL") else smtplib.SMTP
    with smtp_class(host, port, timeout=timeout) as smtp:
        if cfg.get("MAIL_USE_TLS") and not cfg.get("MAIL_USE_SSL"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        smtp.send_message(msg)
