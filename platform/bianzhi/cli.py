"""`flask --app bianzhi ...` commands: init-db, deploy, demo, create-user, unlock-user."""
import logging

import click
from flask_migrate import upgrade
from sqlalchemy import select

from .accounts.models import User
from .accounts.operations import create_user, deactivate, issue_token, set_password, unlock
from .audit import cli as audit_cli
from .backup import cli as backup_cli
from . import demo_scale
from .demo import load_demo
from .documents.cli import register_cli as documents_cli
from .errors import DomainError
from .extensions import db
from .ledger.operations import unit_by_code
from .organisation import cli as organisation_cli
from .processes import cli as processes_cli
from .queries import cli as queries_cli
from .reports import cli as reports_cli
from .processes.operations import deploy_folder
from .worker import Worker


def _fail(exc):
    lines = [exc.message] + [f"  {k}: {'；'.join(map(str, v if isinstance(v, list) else [v]))}"
                             for k, v in exc.fields.items()]
    raise click.ClickException("\n".join(lines))


def _user(username):
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"没有用户 {username}")
    return user


def _deploy(comment=None):
    try:
        results = deploy_folder(comment=comment)
    except DomainError as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    for name, version, created in results:
        click.echo(f"{name}: {version.key} v{version.version} {'已部署新版本' if created else '无变化'}")


def register(app):
    audit_cli.register(app)
    backup_cli.register(app)
    documents_cli(app)
    organisation_cli.register(app)
    processes_cli.register(app)
    queries_cli.register(app)
    reports_cli.register(app)

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="只执行一遍当前到期的任务后退出")
    @click.option("--interval", type=float, default=None, help="无到期任务时的轮询间隔（秒）")
    def worker(once, interval):
        """Run due reminders, escalations, timer events and e-mail until stopped (SIGTERM)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        runner = Worker(app)
        if once:
            click.echo(f"已执行 {runner.run_once()} 个到期任务")
            return
        runner.run_forever(interval or app.config["WORKER_INTERVAL"])

    @app.cli.command("init-db")
    def init_db():
        """Create or upgrade the database schema and deploy the processes in bpmn/."""
        upgrade()
        _deploy()
        click.echo("数据库已就绪：" + db.engine.url.render_as_string(hide_password=True))

    @app.cli.command("deploy")
    @click.option("--comment", default=None, help="部署说明")
    def deploy(comment):
        """Re-read bpmn/ and forms/; every changed diagram becomes a new version."""
        _deploy(comment)

    @app.cli.command("demo")
    @click.option("--password", required=True, help="所有演示用户的密码")
    @click.option("--no-cases", is_flag=True, help="不生成演示案件")
    @click.option("--scale", type=click.Choice(["district", "city", "province"]), default=None,
                  help="另外批量生成规模数据（测量用）：district 500 个单位、2 万人；city 十倍；province 百倍")
    def demo(password, no_cases, scale):
        """Load the demo district (idempotent): units, establishment, people, users, and cases of
        every process in every state. With --scale, also bulk-generate a synthetic ledger of that
        size beside it (bianzhi.demo_scale; for benchmarks, on a database of its own)."""
        created = load_demo(password, with_cases=not no_cases and scale is None)
        db.session.commit()
        click.echo("演示数据已载入" if created else "演示数据已存在，未重复载入")
        if scale:
            try:
                counts = demo_scale.generate(scale, progress=click.echo, password=password)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from None
            demo_scale.analyze()
            click.echo("规模数据已生成：" + "，".join(f"{k} {v:,}" for k, v in counts.items()))

    @app.cli.command("unlock-user")
    @click.argument("username")
    def unlock_user(username):
        """Unlock an account locked after failed logins."""
        user = _user(username)
        unlock(user)
        db.session.commit()
        click.echo(f"已解锁 {username}")

    @app.cli.command("set-password")
    @click.argument("username")
    @click.option("--password", required=True)
    def set_password_cmd(username, password):
        """Set a user's password; their sessions and API tokens end."""
        user = _user(username)
        try:
            set_password(user, password)
        except DomainError as exc:
            db.session.rollback()
            _fail(exc)
        db.session.commit()
        click.echo(f"已修改 {username} 的密码，其登录会话和令牌均已失效")

    @app.cli.command("deactivate-user")
    @click.argument("username")
    def deactivate_user(username):
        """Deactivate an account: it cannot sign in, its sessions and API tokens end."""
        user = _user(username)
        deactivate(user)
        db.session.commit()
        click.echo(f"已停用 {username}，其登录会话和令牌均已失效")

    @app.cli.command("issue-token")
    @click.argument("username")
    @click.option("--hours", default=24 * 365, show_default=True, help="有效期（小时）")
    def issue_token_cmd(username, hours):
        """Issue an API token for a service account (e.g. the finance bureau's)."""
        user = _user(username)
        token = issue_token(user, hours=hours)
        db.session.commit()
        click.echo(token)

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--password", required=True)
    @click.option("--role", "roles", multiple=True, required=True,
                  help="unit_clerk / reviewer / leader / process_owner / admin / auditor / finance / partner，可重复")
    @click.option("--unit", default=None, help="单位统一社会信用代码（单位经办人必填）")
    @click.option("--name", default=None, help="姓名")
    @click.option("--office", default=None, help="所属编办代码（编办工作人员）")
    @click.option("--department", default=None, help="联审部门，写作 编办代码:部门代码（联审部门账号）")
    def create_user_cmd(username, password, roles, unit, name, office, department):
        """Create a user; bureau staff in an office (--office), a partner in a department (--department)."""
        from .organisation import operations as org

        try:
            unit_obj = unit_by_code(unit) if unit else None
            user = create_user(username, password, name or username, list(roles), unit_obj)
            if department:
                office_code, _, code = department.partition(":")
                org.place_user(None, user, department=org.department_by_code(org.office_by_code(office_code), code))
            elif office:
                org.place_user(None, user, org.office_by_code(office))
        except DomainError as exc:
            db.session.rollback()
            _fail(exc)
        db.session.commit()
        click.echo(f"已创建用户 {username}")
