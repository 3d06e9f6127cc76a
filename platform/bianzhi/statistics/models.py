"""What approval monitoring keeps beside the cases: one row per human step as it opened and
closed, with its due date. Open-task rows are deleted when a step is done, so without this log
a step's deadline (and whether it was met) would be lost once the step closes."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class StepLog(db.Model):
    """A human step of a case: opened (the open task appeared), closed (it was done, withdrawn
    or ended by a timer), and its limit in working days as a due date (None: no limit).
    `task_id` is the engine's task id, the same as CaseStep.task_id of the decision taken."""
    __tablename__ = "step_log"
    __table_args__ = (Index("ix_step_log_opened_at", "opened_at"),
                      Index("ix_step_log_process_key_opened_at", "process_key", "opened_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    bpmn_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    due_date: Mapped[date | None]
    closed_at: Mapped[datetime | None]
