"""Deployed process versions: the BPMN text and the forms it names, frozen."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .. import clock
from ..extensions import db


class ProcessVersion(db.Model):
    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64))
    # the content, immutable once deployed; deferred so that loading a case does not drag it along
    bpmn_xml: Mapped[str] = deferred(mapped_column(Text))
    forms_json: Mapped[str] = deferred(mapped_column(Text))  # {"form key": {...form...}}, as deployed
    dmn_json: Mapped[str] = deferred(mapped_column(Text, default="{}"))  # {"file.dmn": "<xml>"} it calls
    comment: Mapped[str | None] = mapped_column(Text)
    deployed_at: Mapped[datetime] = mapped_column(default=clock.now)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    deployed_by = relationship("User")


class ProcessDraft(db.Model):
    """A process owner's unsaved-to-production work on one process: at most one per key.
    Saving never affects anyone; an admin's deploy turns it into the next version."""
    __tablename__ = "process_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms_json: Mapped[str] = mapped_column(Text, default="{}")  # {"form key": {...}} edited with it
    dmn_json: Mapped[str] = mapped_column(Text, default="{}")  # decision tables it calls, as deployed
    based_on_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    based_on = relationship("ProcessVersion")
    updated_by = relationship("User")
