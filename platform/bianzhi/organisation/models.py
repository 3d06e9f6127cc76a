"""The organisation: offices (编办) in a tree, their sections (科室) that own units (归口管理),
who sits in which section, and the partner departments (组织部, 人社局, 财政局 …) that act on
steps routed to them. Units, users, cases and open tasks point here (their office_id,
section_id, partner_department_id)."""
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

LEVELS = {"province": "省级", "city": "市级", "county": "县（区）级"}
DUTIES = {"reviewer": "科室成员", "leader": "分管领导"}


class Office(db.Model):
    """One 编办. `path` is the chain of ids from the top ("/1/4/9/"): the offices under one are
    those whose path starts with its own, one indexed comparison whatever the depth."""
    __tablename__ = "offices"
    __table_args__ = (CheckConstraint("level in ('province','city','county')", name="level_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 行政区划代码, e.g. 330603
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(12))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")

    parent = relationship("Office", remote_side=[id])

    @property
    def level_label(self):
        return LEVELS.get(self.level, self.level)

    def as_dict(self):
        return {"code": self.code, "name": self.name, "level": self.level}

    def subtree_ids(self):
        """Ids of this office and every office below it."""
        return db.session.scalars(select(Office.id).where(Office.path.startswith(self.path))).all()


class Section(db.Model):
    """A 科室 of one office; units are 归口 to it (Unit.section_id)."""
    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("office_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))

    office = relationship("Office", lazy="joined")


class SectionMember(db.Model):
    """A user's place in a section: a reviewer of it (duty reviewer), or the leader in charge of
    it (duty leader, 分管领导)."""
    __tablename__ = "section_members"
    __table_args__ = (UniqueConstraint("section_id", "user_id", "duty"),
                      CheckConstraint("duty in ('reviewer','leader')", name="duty_known"))
    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    duty: Mapped[str] = mapped_column(String(12))

    section = relationship("Section", lazy="joined")
    user = relationship("User")


class PartnerDepartment(db.Model):
    """A partner department of an office's region (区委组织部, 区人社局, 区财政局 …): its users
    (role partner) act on the steps a diagram routes to `department:<code>`."""
    __tablename__ = "partner_departments"
    __table_args__ = (UniqueConstraint("office_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))

    office = relationship("Office", lazy="joined")
