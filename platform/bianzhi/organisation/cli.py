"""`flask --app bianzhi org …`: the organisation from the server's shell, the same operations as
the admin pages (organisation.operations), run as the system (no acting user: the audit log
records them without one). Each command is one commit; a refusal is printed in Chinese, nothing
is kept, and the exit code is 1."""
import functools

import click
from flask.cli import AppGroup

from ..errors import DomainError, ValidationFailed
from ..extensions import db
from . import operations as org
from .models import DUTIES, LEVELS

org_cli = AppGroup("org", help="组织设置：编办、科室、归口、联审部门与人员归属")
# the level as a key or in Chinese (市级, 市 …)
LEVEL_NAMES = {**{k: k for k in LEVELS}, **{v: k for k, v in LEVELS.items()},
               "省": "province", "市": "city", "县": "county", "区": "county", "县级": "county", "区级": "county"}


def command(name):
    """A subcommand of `org` whose body runs as one transaction: committed when it returns,
    rolled back and printed (exit 1) when an operation refuses."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
            except DomainError as exc:
                db.session.rollback()
                lines = [exc.message] + [f"  {k}：{'；'.join(map(str, v if isinstance(v, list) else [v]))}"
                                         for k, v in exc.fields.items()]
                raise click.ClickException("\n".join(lines)) from None
            db.session.commit()
            return result
        return org_cli.command(name)(run)
    return wrap


def _office_and(office_code, pick, code):
    office = org.office_by_code(office_code)
    return office, pick(office, code)


@command("office-add")
@click.argument("code")
@click.argument("name")
@click.argument("level")
@click.option("--parent", default=None, help="上级编办代码（市级的上级为省级，县级的上级为市级）")
def office_add(code, name, level, parent):
    """Add an office (LEVEL: province/city/county, or 省级/市级/县（区）级)."""
    parent_office = org.office_by_code(parent) if parent else None
    office = org.create_office(None, code, name, LEVEL_NAMES.get(level.strip(), level), parent=parent_office)
    click.echo(f"已新建{office.name}（{office.code}，{office.level_label}"
               f"{'，上级：' + parent_office.name if parent_office else ''}）")


@command("section-add")
@click.argument("office")
@click.argument("code")
@click.argument("name")
def section_add(office, code, name):
    """Add a section (科室) to an office."""
    office_obj = org.office_by_code(office)
    section = org.create_section(None, office_obj, code, name)
    click.echo(f"已为{office_obj.name}新建科室{section.name}（{section.code}）")


@command("section-delete")
@click.argument("office")
@click.argument("code")
def section_delete(office, code):
    """Delete a section that owns no unit and has no open task."""
    _, section = _office_and(office, org.section_by_code, code)
    name = section.name
    org.delete_section(None, section)
    click.echo(f"已删除科室{name}")


def _member(office, section, username, duty, change):
    office_obj, section_obj = _office_and(office, org.section_by_code, section)
    user = org.user_by_name(username, office_obj)
    change(None, section_obj, user, duty)
    return section_obj, user


DUTY = click.option("--duty", type=click.Choice(list(DUTIES)), required=True,
                    help="reviewer（科室成员）或 leader（分管领导）")


@command("member-add")
@click.argument("office")
@click.argument("section")
@click.argument("username")
@DUTY
def member_add(office, section, username, duty):
    """Make a reviewer a member of a section, or a leader its leader in charge."""
    section_obj, user = _member(office, section, username, duty, org.add_member)
    click.echo(f"{user.display_name}已任{section_obj.name}{DUTIES[duty]}")


@command("member-remove")
@click.argument("office")
@click.argument("section")
@click.argument("username")
@DUTY
def member_remove(office, section, username, duty):
    """Take a user out of a section (or out of its charge)."""
    section_obj, user = _member(office, section, username, duty, org.remove_member)
    click.echo(f"{user.display_name}已不再是{section_obj.name}的{DUTIES[duty]}")


@command("assign")
@click.argument("office")
@click.argument("section")
@click.argument("units", nargs=-1)
@click.option("--kind", default=None, help="另加本编办某一类别的全部单位：党政机关 / 事业单位")
@click.option("--dry-run", is_flag=True, help="只列出将要调整的单位，不作修改")
def assign(office, section, units, kind, dry_run):
    """归口: the units (统一社会信用代码) are owned by SECTION from now on; one chronicle entry each."""
    office_obj, section_obj = _office_and(office, org.section_by_code, section)
    chosen = org.units_to_assign(office_obj, units, kind)
    moves = org.assign_units(None, chosen, section_obj, preview=dry_run)
    for unit, before, after in moves:
        click.echo(f"{unit.code} {unit.name}：{before.name if before else '（未归口）'} → {after.name}")
    unchanged = len(chosen) - len(moves)
    tail = f"，{unchanged} 个已归口{section_obj.name}不变" if unchanged else ""
    if dry_run:
        click.echo(f"预览：将调整 {len(moves)} 个单位{tail}（未修改）")
    else:
        click.echo(f"已将 {len(moves)} 个单位归口到{section_obj.name}{tail}")


@command("department-add")
@click.argument("office")
@click.argument("code")
@click.argument("name")
def department_add(office, code, name):
    """Add a partner department (组织部, 人社局 …) to an office's region."""
    office_obj = org.office_by_code(office)
    dept = org.create_department(None, office_obj, code, name)
    click.echo(f"已为{office_obj.name}新建联审部门{dept.name}（{dept.code}）")


@command("department-delete")
@click.argument("office")
@click.argument("code")
def department_delete(office, code):
    """Delete a partner department with no open task and no active user."""
    _, dept = _office_and(office, org.department_by_code, code)
    name = dept.name
    org.delete_department(None, dept)
    click.echo(f"已删除联审部门{name}")


@command("place")
@click.argument("username")
@click.option("--office", "office_code", default=None, help="编办代码（编办工作人员）")
@click.option("--department", default=None, help="编办代码:部门代码（联审部门账号），如 330603:zzb")
@click.option("--move", is_flag=True, help="确认调出：用户已属于其他编办时将其调入（原科室职务一并取消）")
def place(username, office_code, department, move):
    """Put a bureau user in an office, or a partner user in a department."""
    if bool(office_code) == bool(department):
        raise ValidationFailed("请指定 --office 或 --department 之一", fields={"office": ["二选一"]})
    dept = office_obj = None
    if department:
        where, _, code = department.partition(":")
        if not code:
            raise ValidationFailed("--department 应写作 编办代码:部门代码，如 330603:zzb",
                                   fields={"department": ["格式不对"]})
        office_obj, dept = _office_and(where, org.department_by_code, code)
    else:
        office_obj = org.office_by_code(office_code)
    user = org.user_by_name(username)
    org.place_user(None, user, office=office_obj, department=dept, move=move)
    click.echo(f"{user.display_name}（{user.username}）已归属{office_obj.name}{dept.name if dept else ''}")


@command("tree")
def tree():
    """Print the offices as a tree, each with its sections, their unit counts and members."""
    def show(office, depth):
        overview = org.office_overview(office)
        pad = "  " * depth
        click.echo(f"{pad}{office.name}（{office.code}，{office.level_label}）：{overview['units']} 个单位"
                   + (f"，未归口 {overview['unsectioned']} 个" if overview["unsectioned"] else ""))
        for row in overview["sections"]:
            people = "；".join(f"{DUTIES[duty]}：{'、'.join(u.username for u in row[key])}"
                              for duty, key in (("reviewer", "reviewers"), ("leader", "leaders")) if row[key])
            click.echo(f"{pad}  · 科室 {row['section'].code} {row['section'].name}：归口 {row['units']} 个单位"
                       + (f"（{people}）" if people else "（无人员）"))
        for dept in org.departments_of(office):
            users = org.department_users(dept)
            click.echo(f"{pad}  · 联审部门 {dept.code} {dept.name}：{'、'.join(u.username for u in users) or '无账号'}")
        for child in org.children(office):
            show(child, depth + 1)

    tops = org.top_offices()
    if not tops:
        click.echo("尚无编办：先用 org office-add 新建")
    for office in tops:
        show(office, 0)


def register(app):
    app.cli.add_command(org_cli)
