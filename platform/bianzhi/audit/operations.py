"""Writing audit entries (append only; nothing here updates or deletes)."""
from ..extensions import db
from .models import AuditEntry


def record(user, action, target=None, ip=None, **detail):
    entry = AuditEntry(user_id=user.id if user is not None else None, action=action,
                       target=target, detail=detail, ip=ip)
    db.session.add(entry)
    return entry
