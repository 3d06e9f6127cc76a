"""An annual review (one per year) and the case it opened for each unit."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db


class AnnualReview(db.Model):
    __tablename__ = "annual_reviews"
    __table_args__ = (CheckConstraint("units >= 0", name="units_not_negative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)  # one review per year
    deadline: Mapped[date]  # the units confirm by this date (working days count from here)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # the bureau user who started it
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    units: Mapped[int]  # how many unit cases it opened

    started_by = relationship("User")


class ReviewCase(db.Model):
    """The review's case for one unit."""
    __tablename__ = "review_cases"
    __table_args__ = (UniqueConstraint("review_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("annual_reviews.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
