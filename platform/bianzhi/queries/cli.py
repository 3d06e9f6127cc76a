"""`flask --app bianzhi quality-check`: the data-quality check for the worker or cron."""
import click

from ..extensions import db
from . import quality


def register(app):
    @app.cli.command("quality-check")
    def quality_check():
        """Run every active data-quality rule (built-in rules are added when missing); open new
        findings, mark findings that no longer match as fixed."""
        result = quality.check_now(None)
        db.session.commit()
        click.echo(f"已按 {result.rules} 条规则检查：新发现 {result.opened} 条，已整改 {result.fixed} 条，"
                   f"仍未整改 {result.still_open} 条")
