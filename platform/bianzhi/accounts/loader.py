"""Flask-Login glue."""
from sqlalchemy.orm import joinedload

from ..extensions import db, login_manager
from .models import User

login_manager.login_view = "web.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "warning"


@login_manager.user_loader
def load_user(user_id):
    # the user and their roles in one query (every page asks for the roles)
    user = db.session.get(User, int(user_id), options=[joinedload(User.role_rows)])
    return user if user is not None and user.active else None
