"""The ledger: units, establishment, people on roll, reservations, chronicle."""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from .. import clock
from ..extensions import db

CATEGORIES = ("行政编制", "事业编制", "工勤编制", "政法专项编制")
FUNDING = ("全额", "差额", "自收自支")


class Unit(db.Model):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint("status in ('active', 'abolished')", name="status_known"),
                      CheckConstraint("status = 'abolished' OR abolished_on IS NULL", name="abolished_dated"))
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 统一社会信用代码
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # 党政机关 / 事业单位
    level: Mapped[str | None] = mapped_column(String(16))  # 机构级别
    nature: Mapped[str | None] = mapped_column(String(32))  # 机构性质
    funding: Mapped[str | None] = mapped_column(String(8))  # 经费形式
    system: Mapped[str | None] = mapped_column(String(32))  # 系统类别
    founded: Mapped[date | None]
    approval_doc: Mapped[str | None] = mapped_column(String(64))  # 批准文号
    # lifecycle (ledger/units.py): an abolished unit keeps its rows and its history
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    abolished_on: Mapped[date | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    functions: Mapped[str | None] = mapped_column(Text)  # 主要职责
    # whose jurisdiction the unit is in, and the section of that office it is 归口 to
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"), index=True)

    parent = relationship("Unit", remote_side=[id], foreign_keys=[parent_id])
    merged_into = relationship("Unit", remote_side=[id], foreign_keys=[merged_into_id])


class Establishment(db.Model):
    """Approved establishment of one unit in one category (核定数)."""
    __tablename__ = "establishments"
    __table_args__ = (UniqueConstraint("unit_id", "category"),
                      CheckConstraint("approved >= 0", name="approved_not_negative"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    category: Mapped[str] = mapped_column(String(16))
    approved: Mapped[int]

    unit = relationship("Unit")


class Person(db.Model):
    """A person on the roll (在编) or who left (出编); nobody is deleted."""
    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint("status in ('on_roll', 'left')", name="status_known"),
        Index("ix_people_unit_category_status", "unit_id", "category", "status"),
        Index("uq_people_id_number_on_roll", "id_number", unique=True,
              sqlite_where=db.text("status = 'on_roll'"),
              postgresql_where=db.text("status = 'on_roll'")),
        # 自然减员 reads people on roll by birth-date ranges (ledger/retirement.birth_ranges)
        Index("ix_people_on_roll_birth_date", "birth_date", "sex",
              sqlite_where=db.text("status = 'on_roll'"), postgresql_where=db.text("status = 'on_roll'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)  # 一编一人一码
    name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    sex: Mapped[str] = mapped_column(String(2))
    birth_date: Mapped[date]
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # 在编单位
    work_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # 任职单位
    category: Mapped[str] = mapped_column(String(16))  # 编制类型
    status: Mapped[str] = mapped_column(String(8), default="on_roll")
    entry_date: Mapped[date]  # 入编时间
    education: Mapped[str | None] = mapped_column(String(16))
    post: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # the other person-record fields
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # the case that registered them
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # 所在内设机构
    midlevel_post: Mapped[str | None] = mapped_column(String(16))  # 中层职务: 正职 / 副职
    left_date: Mapped[date | None]
    left_reason: Mapped[str | None] = mapped_column(String(32))
    exit_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    exit_late: Mapped[bool] = mapped_column(default=False)  # filed after the exit deadline
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    unit = relationship("Unit", foreign_keys=[unit_id])
    department = relationship("Department")


class Reservation(db.Model):
    """Places held out of the vacancy (预留): by an approved plan line for a year (kind 'plan',
    used up as vacancy-use cases draw on it), or by an approved vacancy-use case until its
    people are registered (kind 'case')."""
    __tablename__ = "reservations"
    __table_args__ = (CheckConstraint("count > 0", name="count_positive"),
                      CheckConstraint("used >= 0 AND used <= count", name="used_within_count"),
                      CheckConstraint("status in ('active', 'closed')", name="status_known"),
                      CheckConstraint("kind in ('plan', 'case')", name="kind_known"),
                      CheckConstraint("kind = 'case' OR year IS NOT NULL", name="plan_has_year"),
                      Index("ix_reservations_unit_category_status", "unit_id", "category", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="case")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    category: Mapped[str] = mapped_column(String(16))
    year: Mapped[int | None]
    channel: Mapped[str | None] = mapped_column(String(16))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"))  # the plan line drawn on
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    count: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def remaining(self):
        return self.count - self.used if self.status == "active" else 0


class ChronicleEntry(db.Model):
    """沿革: one entry per ledger change, before -> after, with the case that caused it."""
    __tablename__ = "chronicle"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    # what the change did to the unit's figures, e.g. {"category": "事业编制", "on_roll": 1,
    # "reserved": -1}; replaying deltas backwards gives the ledger on any past date
    delta: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))  # None is SQL NULL

    user = relationship("User")


class Department(db.Model):
    """内设机构: an internal department of a unit."""
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))


class PostQuota(db.Model):
    """Approved leadership (领导职数) or mid-level (中层职数) posts of a unit, by level."""
    __tablename__ = "post_quotas"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "level"),
                      CheckConstraint("kind in ('leadership', 'midlevel')", name="kind_known"),
                      CheckConstraint("approved >= 0", name="approved_not_negative"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))  # 正职 / 副职
    approved: Mapped[int]


class TempQuota(db.Model):
    """An approved temporary-staff quota (临聘/编外) for a period."""
    __tablename__ = "temp_quotas"
    __table_args__ = (CheckConstraint("count > 0", name="count_positive"),
                      CheckConstraint("used >= 0 AND used <= count", name="used_within_count"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    count: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    posts: Mapped[str] = mapped_column(Text)
    funding: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date]
    end_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class TempStaff(db.Model):
    """A named temporary staff member on the temp register."""
    __tablename__ = "temp_staff"
    __table_args__ = (CheckConstraint("status in ('active', 'left')", name="status_known"),
                      Index("uq_temp_staff_id_number_active", "id_number", unique=True,
                            sqlite_where=db.text("status = 'active'"),
                            postgresql_where=db.text("status = 'active'")))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    quota_id: Mapped[int] = mapped_column(ForeignKey("temp_quotas.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18))
    sex: Mapped[str] = mapped_column(String(2))
    birth_date: Mapped[date]
    post: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date]
    end_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Absorption(db.Model):
    """消化: an establishment line knowingly left over (on roll + reserved > approved) by an
    adjustment or transfer, to be absorbed by a target date. Open until a later change finds
    the line back within the approved number (ledger/units.py)."""
    __tablename__ = "absorptions"
    __table_args__ = (CheckConstraint("excess > 0", name="excess_positive"),
                      CheckConstraint("status in ('open', 'closed')", name="status_known"),
                      Index("ix_absorptions_unit_status", "unit_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    category: Mapped[str] = mapped_column(String(16))
    excess: Mapped[int]  # over by this many when it was decided
    target_date: Mapped[date]
    document: Mapped[str] = mapped_column(String(64))  # the approving document's number
    status: Mapped[str] = mapped_column(String(8), default="open")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    closed_at: Mapped[datetime | None]


class PersonPhoto(db.Model):
    """照片: one current photo per person, kept in the database (app servers stay stateless)."""
    __tablename__ = "person_photos"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)


class FinanceHeadcount(db.Model):
    """财供人数: the head count the finance bureau pays, per unit and category, as of a date
    (reported through the exchange API); compared with the roll in the reconciliation."""
    __tablename__ = "finance_headcounts"
    __table_args__ = (UniqueConstraint("unit_id", "category", "as_of"),
                      CheckConstraint("paid >= 0", name="paid_not_negative"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    paid: Mapped[int]
    as_of: Mapped[date]
    source: Mapped[str] = mapped_column(String(64))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(default=clock.now)
