"""Issued notices: HTML fixed at decision time, PDF rendered once on first download."""
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .. import clock
from ..extensions import db


class Notice(db.Model):
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    verify_code: Mapped[str] = mapped_column(String(32), unique=True)
    html: Mapped[str] = deferred(mapped_column(Text))
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    rendered_at: Mapped[datetime | None]

    case = relationship("Case", lazy="joined")
