"""`flask --app bianzhi backup` and `restore`."""
import time
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade

from .. import clock
from ..audit.operations import anchor_head
from ..extensions import db
from ..util import local
from .operations import BackupError, restore, write


def register(app):
    @app.cli.command("backup")
    @click.option("--out", "out_path", default=None, help="备份文件路径（默认 instance/backups/日期时间.tar.gz）")
    def backup_cmd(out_path):
        """Write a consistent, checksummed archive of the whole database while the app serves."""
        path = Path(out_path or Path(current_app.instance_path) / "backups" /
                    local(clock.now(), "bianzhi-%Y%m%d-%H%M%S.tar.gz"))
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        partial = path.with_suffix(path.suffix + ".part")
        with open(partial, "wb") as out:
            manifest = write(out)
        partial.replace(path)  # never a half-written archive under the real name
        rows = sum(t["rows"] for t in manifest["tables"])
        click.echo(f"已备份 {len(manifest['tables'])} 张表、{rows} 行到 {path}"
                   f"（{path.stat().st_size / 1024:.0f} KB，{time.perf_counter() - started:.1f} 秒）")

    @app.cli.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False))
    def restore_cmd(archive):
        """Rebuild a working instance from an archive, into an empty database."""
        upgrade()
        try:
            manifest = restore(archive)
        except BackupError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        rows = sum(t["rows"] for t in manifest["tables"])
        click.echo(f"已恢复 {len(manifest['tables'])} 张表、{rows} 行（备份于 {manifest['created_at']} UTC）")
        verdict = anchor_head()  # the restored log is now the chain this installation keeps
        if verdict.ok:
            click.echo(f"审计链头已按恢复的日志重设：{verdict.count} 条")
        else:
            click.echo(f"注意：恢复的审计日志校验失败：{verdict.problem}（链头未重设）", err=True)
