"""Users, roles and API tokens."""
import hashlib
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..extensions import db

# role key -> (label, lane names that mean this role)
ROLES = {
    "unit_clerk": ("单位经办人", ("单位经办人", "申请单位", "unit_clerk")),
    "reviewer": ("业务科室", ("业务科室", "业务科室初审", "reviewer")),
    "leader": ("分管领导", ("分管领导", "主任办公会", "领导", "leader")),
    "process_owner": ("流程管理员", ("流程管理员", "process_owner")),
    "admin": ("系统管理员", ("系统管理员", "admin")),
    "auditor": ("督查", ("督查", "纪委", "auditor")),
    "finance": ("财政系统", ("finance",)),  # a service account: reads head counts through the API only
    # a partner department's staff (部门联审): the steps routed to their department, nothing else
    "partner": ("联审部门", ("联审部门", "部门联审", "组织部", "人社局", "财政局", "partner")),
}
BUREAU_READERS = {"reviewer", "leader", "admin", "auditor"}


def role_for_lane(lane_name):
    """The role key a lane stands for, or None when the lane names no role."""
    if lane_name is None:
        return None
    name = lane_name.strip()
    for key, (_label, aliases) in ROLES.items():
        if name in aliases:
            return key
    return None


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # the office a bureau user works in (a clerk's is their unit's); a partner's department
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    partner_department_id: Mapped[int | None] = mapped_column(ForeignKey("partner_departments.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)  # consecutive, reset on success
    locked_until: Mapped[datetime | None]
    # part of the id a session cookie carries: logout, a password change and deactivation raise
    # it, and every session signed with the old value stops working (the cookie lives in the browser)
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    unit = relationship("Unit", lazy="joined")
    office = relationship("Office", lazy="joined", foreign_keys=[office_id])
    partner_department = relationship("PartnerDepartment", lazy="joined")
    role_rows = relationship("UserRole", lazy="selectin", cascade="all, delete-orphan")

    @property
    def roles(self):
        return sorted(r.role for r in self.role_rows)

    def has_role(self, *roles):
        return any(r.role in roles for r in self.role_rows)

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        """What Flask-Login keeps in the session: the id and the session version ("12:3")."""
        return f"{self.id}:{self.session_version}"

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def reads_all_units(self):
        """The scope half of the access rules: bureau staff and supervisors read the cases,
        people, documents and figures of every unit of their office's jurisdiction and of the
        offices below it (organisation.scope); anyone else at most their own unit's."""
        return self.has_role(*BUREAU_READERS)

    @property
    def home_office_id(self):
        """The office the user belongs to: their own, else their unit's."""
        if self.office_id is not None:
            return self.office_id
        return self.unit.office_id if self.unit is not None else None

    def section_ids(self, duty):
        """The sections the user reviews for (duty reviewer) or is in charge of (duty leader);
        read once per loaded user (a request's), both duties in one statement."""
        from ..organisation.models import SectionMember

        places = self.__dict__.get("_section_places")
        if places is None:
            places = {"reviewer": [], "leader": []}
            for section_id, held in db.session.execute(db.select(SectionMember.section_id, SectionMember.duty)
                                                       .where(SectionMember.user_id == self.id)):
                places.setdefault(held, []).append(section_id)
            self.__dict__["_section_places"] = places
        return places.get(duty, [])

    def forget_sections(self):
        self.__dict__.pop("_section_places", None)

    @property
    def role_labels(self):
        return "、".join(ROLES[r][0] for r in self.roles if r in ROLES)


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user = relationship("User", lazy="joined")

    @staticmethod
    def digest(token):
        return hashlib.sha256(token.encode()).hexdigest()
from ..organisation import models as _organisation  # noqa: E402,F401  the User relationships name its classes
