"""Accounts: create users, authenticate, API tokens."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from ..audit.models import AuditEntry
from ..audit.operations import record as audit
from ..errors import TooManyRequests, Unauthorized, ValidationFailed
from ..extensions import db
from .models import ROLES, ApiToken, User, UserRole

MIN_PASSWORD = 8


def password_problems(password, username=None):
    """The password policy: at least 8 characters, letters and digits, not the user name."""
    problems = []
    if not password or len(password) < MIN_PASSWORD:
        problems.append(f"密码至少 {MIN_PASSWORD} 位")
    elif not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        problems.append("密码须同时包含字母和数字")
    elif username and password.lower() == username.lower():
        problems.append("密码不能与用户名相同")
    return problems


def create_user(username, password, display_name, roles, unit=None, actor=None):
    errors = {}
    if not username or not username.isascii() or not username.replace("_", "").isalnum():
        errors["username"] = ["用户名只能含字母、数字和下划线"]
    elif db.session.scalar(select(User).where(User.username == username)):
        errors["username"] = [f"用户名 {username} 已存在"]
    if password_problems(password, username):
        errors["password"] = password_problems(password, username)
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
    """The user, or an error. Failures count per account (locked after LOGIN_MAX_FAILURES for
    LOGIN_LOCK_MINUTES) and per address; the caller commits even when this raises, so that
    failures are remembered. An unknown name, a wrong password, a locked or a deactivated account
    get the same answer after the same work (one password hash checked), so neither the answer nor
    its time tells whether a user name exists."""
    cfg = current_app.config
    now = clock.now()
    window = now - timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
    if ip:
        recent = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.ip == ip, AuditEntry.action == "login.failed", AuditEntry.at > window))
        if recent >= cfg["LOGIN_MAX_PER_ADDRESS"]:
            raise TooManyRequests(f"该地址登录失败次数过多，请 {cfg['LOGIN_LOCK_MINUTES']} 分钟后再试",
                                  code="address_throttled")
    user = db.session.scalar(select(User).where(User.username == (username or "")))
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password or "")
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit(user, "login.locked", f"user:{user.id}", ip=ip)
        raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials")  # the lock is not told apart
    if user is None or not user.active or not matches:
        audit(user, "login.failed", None, ip=ip, username=(username or "")[:64])
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
                user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
                user.failed_logins = 0
                audit(user, "user.lock", f"user:{user.id}", ip=ip)
        raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials")
    user.failed_logins, user.locked_until = 0, None
    audit(user, "login", f"user:{user.id}", ip=ip)
    return user


BAD_CREDENTIALS = "用户名或密码错误"
_dummy_hashes = {}


def _dummy_hash():
    """A hash made the way passwords are now, checked when there is no user to check against."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _dummy_hashes[method]


def unlock(user, actor=None):
    user.failed_logins, user.locked_until = 0, None
    audit(actor, "user.unlock", f"user:{user.id}", username=user.username)


def end_sessions(user):
    """Every session of the user stops working (their cookies carry the old session version)
    and every API token is revoked."""
    user.session_version = (user.session_version or 0) + 1
    revoked = db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                 .values(revoked_at=clock.now())).rowcount
    return revoked


def logout(user, ip=None):
    """Signing out ends the user's sessions everywhere and their API tokens: a copied cookie
    or a forgotten token does not outlive it."""
    revoked = end_sessions(user)
    audit(user, "logout", f"user:{user.id}", ip=ip, tokens_revoked=revoked)


def set_password(user, password, actor=None):
    """A new password (the policy applies); the old one's sessions and tokens end."""
    problems = password_problems(password, user.username)
    if problems:
        raise ValidationFailed("密码不符合要求", fields={"password": problems})
    user.set_password(password)
    user.failed_logins, user.locked_until = 0, None
    revoked = end_sessions(user)
    audit(actor, "user.password", f"user:{user.id}", username=user.username, tokens_revoked=revoked)


def deactivate(user, actor=None):
    """The account can no longer sign in; its sessions and tokens end now."""
    user.active = False
    revoked = end_sessions(user)
    audit(actor, "user.deactivate", f"user:{user.id}", username=user.username, tokens_revoked=revoked)


def revoke_token(token, ip=None):
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token or "")))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        audit(row.user, "token.revoke", f"user:{row.user_id}", ip=ip)


def issue_token(user, ip=None, hours=None):
    token = secrets.token_urlsafe(32)
    hours = hours or current_app.config["API_TOKEN_HOURS"]
    db.session.add(ApiToken(token_hash=ApiToken.digest(token), user_id=user.id,
                            expires_at=clock.now() + timedelta(hours=hours)))
    audit(user, "token.issue", f"user:{user.id}", ip=ip)
    return token


def user_for_token(token):
    # token, user, unit and roles in one statement (every API call starts here)
    row = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(token or ""))
                             .options(joinedload(ApiToken.user).joinedload(User.role_rows))).unique().first()
    if row is None or row.revoked_at is not None or row.expires_at < clock.now() or not row.user.active:
        raise Unauthorized("令牌无效或已过期，请重新获取", code="bad_token")
    return row.user
