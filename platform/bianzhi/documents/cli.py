"""`flask --app bianzhi documents ...`: register a document from a file, rebuild the search text."""
from pathlib import Path

import click

from ..audit.operations import record
from ..errors import DomainError
from ..extensions import db
from ..ledger.operations import unit_by_code
from .models import KINDS
from .operations import register, reindex


def register_cli(app):
    @app.cli.group("documents")
    def group():
        """机构编制文件库."""

    @group.command("add")
    @click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--number", required=True, help="文号，如 柯编〔2024〕12号")
    @click.option("--title", required=True, help="文件标题")
    @click.option("--date", "issued_on", required=True, help="成文日期 YYYY-MM-DD")
    @click.option("--kind", type=click.Choice(KINDS), default="批复", show_default=True)
    @click.option("--issuer", default=None, help="发文机关")
    @click.option("--unit", "unit_codes", multiple=True, help="关联单位的统一社会信用代码（可多次）")
    def add(pdf, number, title, issued_on, kind, issuer, unit_codes):
        """Register a PDF (an existing number only gains the links)."""
        try:
            units = [unit_by_code(code) for code in unit_codes]
            document = register(None, number, title, issued_on, kind=kind, pdf=pdf.read_bytes(),
                                unit_ids=[u.id for u in units], issuer=issuer)
            record(None, "document.register", f"document:{document.id}", via="cli", number=document.number,
                   units=[u.id for u in units], pdf_sha256=document.pdf_sha256)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        db.session.commit()
        click.echo(f"{document.number}：已登记（编号 {document.id}，正文 {len(document.body_text)} 字）")

    @group.command("reindex")
    @click.option("--unit", "unit_code", default=None, help="只重建该单位关联的文件（单位更名后）")
    def reindex_command(unit_code):
        """Rebuild the full-text search text (after a unit was renamed, or a tokenizer change)."""
        try:
            unit = unit_by_code(unit_code) if unit_code else None
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        count = reindex(unit)
        db.session.commit()
        click.echo(f"已重建 {count} 件文件的检索文本")
