"""Roster imports (花名册导入): the uploaded file and where its import stands.

The app servers keep no state: the file stays in this row between the preview and the import,
and the worker (which runs the import) writes its progress here for any app server to read."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db

IMPORT_STATUSES = ("previewed", "queued", "running", "done", "failed")
IMPORT_MODES = ("all", "valid")  # all: nothing if any row is refused; valid: the valid rows only


class RosterImport(db.Model):
    __tablename__ = "roster_imports"
    __table_args__ = (
        CheckConstraint("status in ('previewed', 'queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("mode IS NULL OR mode in ('all', 'valid')", name="mode_known"),
        CheckConstraint("total >= 0 AND done >= 0 AND done <= total", name="progress_within_total"),
        CheckConstraint("refused >= 0 AND imported >= 0 AND skipped >= 0", name="counts_not_negative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="previewed")
    mode: Mapped[str | None] = mapped_column(String(8))
    phase: Mapped[str | None] = mapped_column(String(16))  # 校验 / 写入 while running
    total: Mapped[int] = mapped_column(default=0)  # data rows in the file
    done: Mapped[int] = mapped_column(default=0)  # rows through the current phase
    refused: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)  # already on the ledger (已在册)
    # the preview (or the failed import's) findings, per-unit counts and warnings
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]

    user = relationship("User")
