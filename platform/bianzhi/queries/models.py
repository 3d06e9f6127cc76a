"""Saved queries of the query builder, and data-quality rules with their findings."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db


class SavedQuery(db.Model):
    """A query definition kept by its owner; `shared` lists it for everyone of the owner's office
    who may run queries, nobody in another office (running it still applies the runner's own
    scope)."""
    __tablename__ = "saved_queries"
    __table_args__ = (CheckConstraint("target in ('person', 'unit')", name="target_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(8))
    definition: Mapped[dict] = mapped_column(JSON)
    shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    owner = relationship("User")


class QualityRule(db.Model):
    """数据质量规则: the records a query definition matches are wrong. A few checks that no query
    can express are named Python checks (`builtin`, see quality.py) instead of a definition."""
    __tablename__ = "quality_rules"
    __table_args__ = (CheckConstraint("target in ('person', 'unit')", name="target_known"),
                      CheckConstraint("severity in ('error', 'warning')", name="severity_known"),
                      CheckConstraint("definition IS NOT NULL OR builtin IS NOT NULL", name="has_check"))
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str] = mapped_column(String(8))
    definition: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    builtin: Mapped[str | None] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8), default="warning")
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class QualityFinding(db.Model):
    """One record failing one rule: open until a check no longer finds it (then fixed, kept)."""
    __tablename__ = "quality_findings"
    __table_args__ = (
        CheckConstraint("status in ('open', 'fixed')", name="status_known"),
        CheckConstraint("(status = 'fixed') = (fixed_at IS NOT NULL)", name="fixed_has_date"),
        Index("uq_quality_findings_open", "rule_id", "entity", "entity_id", unique=True,
              sqlite_where=db.text("status = 'open'"), postgresql_where=db.text("status = 'open'")),
        Index("ix_quality_findings_unit_status", "unit_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("quality_rules.id"))
    entity: Mapped[str] = mapped_column(String(8))  # person | unit
    entity_id: Mapped[int]
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(8), default="open")
    found_at: Mapped[datetime] = mapped_column(default=clock.now)
    fixed_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(Text)

    rule = relationship("QualityRule")
    unit = relationship("Unit")
