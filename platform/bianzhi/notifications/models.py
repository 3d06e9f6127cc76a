"""In-app notifications (the bell) and each user's e-mail address for copies by SMTP."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db

KINDS = {"unheld": "无人办理", "urge": "催办", "remind": "到期提醒", "escalate": "超期督办", "transfer": "转办", "assign": "指派", "cc": "抄送",
         "case": "案件进展", "timer": "自动处理", "delegation": "委托"}


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read_id", "user_id", "read_at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    link: Mapped[str | None] = mapped_column(String(200))  # a path inside the platform
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]

    case = relationship("Case")

    @property
    def kind_label(self):
        return KINDS.get(self.kind, self.kind)


class MailAddress(db.Model):
    """Where a user's notifications are also e-mailed (when the platform has MAIL_SERVER)."""
    __tablename__ = "mail_addresses"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
