"""Flask-Login glue."""
from ..extensions import db, login_manager
from .models import User

login_manager.login_view = "web.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "warning"


@login_manager.user_loader
def load_user(user_id):
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
