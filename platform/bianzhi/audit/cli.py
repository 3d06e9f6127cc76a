"""`flask --app bianzhi audit-verify` and `audit-head`."""
import click

from .operations import BadHead, head_file, read_head, verify


def register(app):
    @app.cli.command("audit-verify")
    def audit_verify():
        """Recompute the audit log's keyed hash chain and check its head; exit 1 at the first
        edited, forged or deleted entry."""
        verdict = verify()
        if not verdict.ok:
            raise click.ClickException(f"审计日志校验失败：{verdict.problem}（此前 {verdict.count} 条完好）")
        click.echo(f"审计日志完好：{verdict.count} 条，链头哈希 {verdict.head}")

    @app.cli.command("audit-head")
    def audit_head():
        """Print the audit chain's head (newest entry's id and HMAC, count) for keeping offsite."""
        try:
            head = read_head()
        except BadHead as exc:
            raise click.ClickException(str(exc)) from None
        if head is None:
            raise click.ClickException(f"还没有审计链头（{head_file()} 不存在）：尚未写入带密钥签名的审计记录")
        click.echo(f"审计链头：共 {head['count']} 条，最新一条为第 {head['id']} 条，"
                   f"HMAC {head['hmac']}（更新于 {head['at']} UTC，文件 {head_file()}）")
