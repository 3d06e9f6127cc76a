"""`flask --app bianzhi export-roster` / `import-roster`: the roster as Excel from the command line.

Both run as the system (no user): the export writes full ID numbers, the import's chronicle and
audit entries carry no user. Each is one audit entry."""
from pathlib import Path

import click

from ..audit.operations import record as audit
from ..errors import DomainError
from ..extensions import db
from ..ledger.operations import unit_by_code
from . import operations as reports
from . import roster_file, roster_import


def _fail(exc):
    db.session.rollback()
    raise click.ClickException(exc.message + "".join(f"\n  {'；'.join(map(str, v))}" for v in exc.fields.values()))


def _print_findings(outcome):
    for row, column, message in outcome.findings:
        click.echo(f"第 {row} 行「{column}」：{message}", err=True)
    if outcome.finding_count > len(outcome.findings):
        click.echo(f"……另有 {outcome.finding_count - len(outcome.findings)} 条问题未列出", err=True)


def register(app):
    @app.cli.command("export-roster")
    @click.option("--unit", "unit_code", default=None, help="单位统一社会信用代码（不填为全区）")
    @click.option("--include-left", is_flag=True, help="包含已出编人员")
    @click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
    def export_roster(unit_code, include_left, file):
        """Write the roster (人员花名册) as .xlsx: the file import-roster reads."""
        try:
            unit = unit_by_code(unit_code) if unit_code else None
        except DomainError as exc:
            _fail(exc)
        out, rows = reports.write_roster(unit, include_left)
        with out, open(file, "wb") as target:
            while chunk := out.read(1024 * 1024):
                target.write(chunk)
        audit(None, "roster.export", f"unit:{unit.code}" if unit else "district", rows=rows,
              include_left=include_left, via="cli", file=str(file))
        db.session.commit()
        click.echo(f"已导出 {rows} 人到 {file}")

    @app.cli.command("import-roster")
    @click.option("--valid-only", is_flag=True, help="有未通过校验的行时仍导入其余有效行")
    @click.option("--dry-run", is_flag=True, help="只校验，不导入")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_roster(valid_only, dry_run, file):
        """Import an existing roster (.xlsx in the export's columns) in one transaction. Exits 1
        naming every refused row when any row is refused (nothing imported unless --valid-only)."""
        content = file.read_bytes()
        try:
            roster_file.check_zip(content)
            size = roster_file.row_count(content)
        except DomainError as exc:
            _fail(exc)
        label = "校验" if dry_run else "导入"
        try:
            with click.progressbar(length=size or 0, label=label, show_pos=True) as bar:
                seen = [0]

                def advance(n):
                    bar.update(n - seen[0])
                    seen[0] = n
                if dry_run:
                    outcome = roster_import.walk(content, progress=advance)
                else:
                    outcome = roster_import.import_roster(None, content, valid_only=valid_only, progress=advance,
                                                          filename=file.name)
        except roster_import.RosterRefused as exc:
            db.session.rollback()
            _print_findings(exc.outcome)
            click.echo(f"共 {exc.outcome.total} 行，{exc.outcome.refused} 行未通过校验，未导入任何人员"
                       "（修改后重新导入，或加 --valid-only 只导入有效行）", err=True)
            raise SystemExit(1)
        except DomainError as exc:
            _fail(exc)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        _print_findings(outcome)
        done = "可导入" if dry_run else "已导入"
        click.echo(f"共 {outcome.total} 行：{done} {outcome.valid} 人，已在册跳过 {len(outcome.skipped)} 行，"
                   f"未通过校验 {outcome.refused} 行")
        if outcome.refused:
            raise SystemExit(1)
