"""Bianzhi (编制): BPMN-driven approvals for staffing-establishment offices."""
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from . import access, config, security
from .config import ROOT
from .util import local


class Bianzhi(Flask):
    def dispatch_request(self):
        """Every view's answer passes through web.transaction.finish, the request's one commit
        point: a success commits, an error status rolls back (a raised error never gets there:
        the error handlers roll back)."""
        from .web.transaction import finish
        return finish(self.make_response(super().dispatch_request()))


def create_app(overrides=None):
    app = Bianzhi(__name__, instance_path=str(ROOT / "instance"),
                template_folder=str(ROOT / "templates"), static_folder="static")
    configure_app(app, overrides)
    configure_extensions(app)
    security.configure(app)
    access.configure(app)
    register_blueprints(app)
    register_cli(app)
    return app


class DatabaseInt(IntegerConverter):
    """`<int:…>` in URLs: a number a database key can hold, else the route does not match (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)  # INTEGER keys (32-bit on PostgreSQL)
        super().__init__(map, *args, **kwargs)


def configure_app(app, overrides):
    config.load(app, overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.jinja_env.globals["app_name"] = "编制业务审批平台"
    app.jinja_env.filters["dt"] = local
    from .ledger.changes import change_lines
    app.jinja_env.globals["change_lines"] = change_lines  # a chronicle entry's before → after in words
    app.url_map.converters["int"] = DatabaseInt


def configure_extensions(app):
    from .accounts import loader  # noqa: F401  registers the user loader
    from .extensions import configure_sqlite, csrf, db, login_manager, migrate
    from .registry import register_domain

    register_domain()  # rules, operations, signal listeners, job handlers: not left to imports

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            configure_sqlite(db.engine)


def register_blueprints(app):
    from .api.exchange import bp as exchange_bp
    from .api.inbox import bp as api_inbox_bp
    from .api.views import bp as api_bp
    from .processes.views import bp as design_bp
    from .reports.views import bp as reports_bp
    from .audit.views import bp as audit_bp
    from .inbox.views import bp as inbox_bp
    from .notifications.views import bp as notifications_bp
    from .web.errors import register_error_handlers
    from .web.views import bp as web_bp
    from .web.vendor import bp as vendor_bp  # node_modules files on an allow-list

    app.register_blueprint(web_bp)
    app.register_blueprint(design_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(exchange_bp)
    app.register_blueprint(api_inbox_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(vendor_bp)
    app.register_blueprint(reports_bp)
    from .public.views import bp as public_bp  # 机构公示, no login
    app.register_blueprint(public_bp)
    from .statistics.views import bp as statistics_bp  # statistics, the ledger on a date, 审批监测
    from .api.monitoring import bp as api_monitoring_bp
    app.register_blueprint(statistics_bp)
    app.register_blueprint(api_monitoring_bp)
    from .api.people import bp as api_people_bp  # person records
    from .api.reconcile import bp as api_reconcile_bp  # 财供人数, 四清两对应
    from .api.review import bp as api_review_bp  # 年审进度
    from .records.views import bp as records_bp
    from .review.views import bp as review_bp  # 年审
    app.register_blueprint(api_people_bp)
    app.register_blueprint(api_reconcile_bp)
    app.register_blueprint(api_review_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(review_bp)
    from .documents.views import bp as documents_bp  # 机构编制文件库
    app.register_blueprint(documents_bp)
    from .api.queries import bp as api_queries_bp  # 组合查询 over the API
    from .queries.views import bp as queries_bp  # 组合查询, 数据质量
    app.register_blueprint(api_queries_bp)
    app.register_blueprint(queries_bp)
    from .registers.api import bp as units_api_bp  # 机构编制管理 over the API
    from .registers.views import bp as registers_bp  # 机构编制管理: units, establishment, posts
    app.register_blueprint(units_api_bp)
    app.register_blueprint(registers_bp)
    from .organisation.views import bp as organisation_bp  # 组织设置: offices, sections, 归口, 无人办理
    app.register_blueprint(organisation_bp)
    register_error_handlers(app)


def register_cli(app):
    from .cli import register

    register(app)
