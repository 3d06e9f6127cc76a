"""Flask-Login glue."""
from sqlalchemy.orm import joinedload

from ..extensions import db, login_manager
from .models import User

login_manager.login_view = "web.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "warning"


@login_manager.user_loader
def load_user(session_id):
    """The session's user while the session's version is the user's (User.get_id); a session
    from before a logout, a password change or deactivation, or without a version, is none."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    # the user and their roles in one query (every page asks for the roles)
    user = db.session.get(User, int(user_id), options=[joinedload(User.role_rows)])
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
