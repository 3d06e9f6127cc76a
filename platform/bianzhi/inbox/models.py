"""What the inbox keeps beside the open tasks: delegations (委托), saved filters, copies (抄送),
urges (催办), and the jobs the worker runs (reminders, escalations, timers, e-mail)."""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..accounts.models import User
from ..extensions import db


class Delegation(db.Model):
    """While on leave, `principal` lets `delegate` see and act on their tasks from start to end
    (Beijing dates, both included). Steps done this way record the principal as on_behalf_of."""
    __tablename__ = "delegations"
    __table_args__ = (CheckConstraint("start_date <= end_date", name="dates_ordered"),
                      CheckConstraint("principal_id <> delegate_id", name="not_self"),
                      Index("ix_delegations_delegate_dates", "delegate_id", "start_date", "end_date"))
    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    start_date: Mapped[date]
    end_date: Mapped[date]
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]

    principal = relationship("User", foreign_keys=[principal_id])
    delegate = relationship("User", foreign_keys=[delegate_id])

    @classmethod
    def active(cls, day):
        return (cls.revoked_at.is_(None)) & (cls.start_date <= day) & (cls.end_date >= day)

    @classmethod
    def principals_of(cls, user, day):
        """The users `user` stands in for on `day`."""
        return db.session.scalars(select(User).join(cls, cls.principal_id == User.id)
                                  .where(cls.delegate_id == user.id, cls.active(day), User.active.is_(True))
                                  .order_by(User.id)).unique().all()

    @classmethod
    def delegates_of(cls, user_ids, day):
        """The users standing in for any of `user_ids` on `day`."""
        if not user_ids:
            return []
        return db.session.scalars(select(User).join(cls, cls.delegate_id == User.id)
                                  .where(cls.principal_id.in_(list(user_ids)), cls.active(day),
                                         User.active.is_(True))).unique().all()


class SavedFilter(db.Model):
    """An inbox filter a user named and kept (process, unit, due, text, scope)."""
    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    query: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class CaseCopy(db.Model):
    """抄送: a case sent to someone for information."""
    __tablename__ = "case_copies"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),
                      Index("ix_case_copies_user_id_id", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]

    case = relationship("Case", lazy="joined")
    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    by = relationship("User", foreign_keys=[by_id], lazy="joined")


class Urge(db.Model):
    """催办: someone urged an open step; kept for the record and for the rate limit."""
    __tablename__ = "urges"
    __table_args__ = (Index("ix_urges_task_user_at", "task_id", "user_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=clock.now)

    user = relationship("User", lazy="joined")


JOB_STATES = ("pending", "running", "done", "cancelled", "failed")


class Job(db.Model):
    """Work the worker does at `run_at` (naive UTC): remind, escalate, timer, mail.

    `key` is unique, so a reminder or a timer is scheduled once however often its case is
    synced. A database job runs inside the transaction that marks it done (killed mid-way, it
    rolls back and stays pending); an e-mail job is leased (`running` until `locked_until`)
    because SMTP cannot join a transaction."""
    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint("status in ('pending','running','done','cancelled','failed')",
                                      name="status_known"),
                      CheckConstraint("attempts >= 0", name="attempts_not_negative"),
                      Index("ix_jobs_status_run_at", "status", "run_at"),
                      Index("ix_jobs_case_id_status", "case_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    run_at: Mapped[datetime]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    done_at: Mapped[datetime | None]
