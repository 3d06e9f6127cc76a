"""Accounts: create users, authenticate, API tokens."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..audit.operations import record as audit
from ..errors import Unauthorized, ValidationFailed
from ..extensions import db
from ..util import utcnow
from .models import ROLES, ApiToken, User, UserRole

MIN_PASSWORD = 6


def create_user(username, password, display_name, roles, unit=None, actor=None):
    errors = {}
    if not username or not username.isascii() or not username.replace("_", "").isalnum():
        errors["username"] = ["用户名只能含字母、数字和下划线"]
    elif db.session.scalar(select(User).where(User.username == username)):
        errors["username"] = [f"用户名 {username} 已存在"]
    if not password or len(password) < MIN_PASSWORD:
        errors["password"] = [f"密码至少 {MIN_PASSWORD} 位"]
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        errors["roles"] = [f"未知角色：{'、'.join(unknown)}" if unknown else "至少指定一个角色"]
    if "unit_clerk" in roles and unit is None:
        errors["unit"] = ["单位经办人必须属于一个单位"]
    if errors:
        raise ValidationFailed("用户信息有误", fields=errors)
    user = User(username=username, display_name=display_name or username, unit_id=unit.id if unit else None)
    user.set_password(password)
    user.role_rows = [UserRole(role=r) for r in roles]
    db.session.add(user)
    db.session.flush()
    audit(actor, "user.create", f"user:{user.id}", username=username, roles=list(roles))
    return user


def authenticate(username, password, ip=None):
    user = db.session.scalar(select(User).where(User.username == (username or "")))
    if user is None or not user.active or not user.check_password(password or ""):
        audit(user, "login.failed", None, ip=ip, username=(username or "")[:64])
        raise Unauthorized("用户名或密码错误", code="bad_credentials")
    audit(user, "login", f"user:{user.id}", ip=ip)
    return user


def issue_token(user, ip=None):
    token = secrets.token_urlsafe(32)
    hours = current_app.config["API_TOKEN_HOURS"]
    db.session.add(ApiToken(token_hash=ApiToken.digest(token), user_id=user.id,
                            expires_at=utcnow() + timedelta(hours=hours)))
    audit(user, "token.issue", f"user:{user.id}", ip=ip)
    return token


def user_for_token(token):
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token or "")))
    if row is None or row.revoked_at is not None or row.expires_at < utcnow() or not row.user.active:
        raise Unauthorized("令牌无效或已过期，请重新获取", code="bad_token")
    return row.user
