"""Configuration defaults; instance/config.py and the environment override them."""
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root


class Defaults:
    SECRET_KEY = "dev-only-change-me"
    SQLALCHEMY_DATABASE_URI = None  # filled from DATABASE_URL or the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    BPMN_FOLDER = str(ROOT / "bpmn")
    FORMS_FOLDER = str(ROOT / "forms")
    TEMPLATES_FOLDER = str(ROOT / "templates")
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024
    UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    UPLOAD_ALLOWED = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                      ".png": "image/png",
                      ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                      ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    UPLOADS_PER_CASE = 20
    API_TOKEN_HOURS = 12
    PASSWORD_HASH_METHOD = "scrypt"
    PUBLIC_URL = "http://127.0.0.1:5000"  # printed on notices made outside a request
    OFFICE_NAME = "中共绍兴市柯桥区委机构编制委员会办公室"  # the issuer in each notice's seal area
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set True (env SESSION_COOKIE_SECURE=1) behind HTTPS
    LOGIN_MAX_FAILURES = 5  # per account, then locked
    LOGIN_LOCK_MINUTES = 15
    LOGIN_MAX_PER_ADDRESS = 20  # failed logins from one address per LOGIN_LOCK_MINUTES
    WTF_CSRF_TIME_LIMIT = None
    JSON_AS_ASCII = False
    # e-mail copies of notifications (sent by the worker); no MAIL_SERVER, no e-mail
    MAIL_SERVER = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_FROM = None
    MAIL_TIMEOUT = 30
    WORKER_INTERVAL = 5  # seconds between the worker's polls when nothing is due
    # the audit chain's HMAC key (kept out of the database): AUDIT_KEY, else the file
    # AUDIT_KEY_FILE (default instance/audit.key, made with mode 0600 on first use); and the file
    # holding the chain's head (default instance/audit-<database>.head), rewritten on each commit that audits
    AUDIT_KEY = None
    AUDIT_KEY_FILE = None
    AUDIT_HEAD_FILE = None


def load(app, overrides=None):
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for key in ("SECRET_KEY", "MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM",
                "AUDIT_KEY", "AUDIT_KEY_FILE", "AUDIT_HEAD_FILE"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if os.environ.get("SESSION_COOKIE_SECURE"):
        app.config["SESSION_COOKIE_SECURE"] = os.environ["SESSION_COOKIE_SECURE"] not in ("0", "false", "")
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if overrides:
        app.config.update(overrides)
    if app.config["SECRET_KEY"] == Defaults.SECRET_KEY and not app.config.get("TESTING"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri:
        uri = "sqlite:///" + str(Path(app.instance_path) / "bianzhi.sqlite3")
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    opts = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        opts.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        # a pooled connection that died with a database restart is replaced, not handed out
        opts.setdefault("pool_pre_ping", True)
        opts.setdefault("connect_args", {"connect_timeout": 5})


def _instance_secret(folder):
    """A random key kept in instance/secret_key, made on first start. Several app servers
    behind one load balancer must share one key: set SECRET_KEY in their environment."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
