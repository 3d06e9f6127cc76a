"""`flask --app bianzhi audit-verify`."""
import click

from .operations import verify


def register(app):
    @app.cli.command("audit-verify")
    def audit_verify():
        """Recompute the audit log's hash chain; exit 1 at the first edited or deleted entry."""
        verdict = verify()
        if not verdict.ok:
            raise click.ClickException(f"审计日志校验失败：{verdict.problem}（此前 {verdict.count} 条完好）")
        click.echo(f"审计日志完好：{verdict.count} 条，链头哈希 {verdict.head}")
