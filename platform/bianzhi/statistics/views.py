"""Pages and Excel downloads: /statistics (structure on a date), /statistics/changes,
/statistics/ledger (the ledger on any date) and /monitoring (审批监测) with its drill-down.
Every chart's rows are in a server-rendered table beside it; every download is audited."""
from flask import Blueprint, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from ..audit.operations import record as audit
from ..cases.models import STATE_LABELS
from ..errors import ValidationFailed
from ..organisation import jurisdiction
from . import monitoring
from . import operations as statistics
from .operations import XLSX, Table

bp = Blueprint("statistics", __name__)


def _scope():
    """The reader's jurisdiction, narrowed by ?office= (an upper office choosing one below it)."""
    return statistics.scope_of(current_user, request.args.get("office"))


def _overview(scope):
    day = statistics.as_of_date(request.args.get("date"))
    return {"day": day}, statistics.overview_tables(scope, day)


def _changes(scope):
    start, end = statistics.period(request.args.get("from"), request.args.get("to"))
    return {"start": start, "end": end}, statistics.change_tables(scope, start, end)


def _ledger(scope):
    day = statistics.as_of_date(request.args.get("date"))
    return {"day": day}, [statistics.ledger_table(scope, day)]


PAGES = {"overview": (_overview, "统计分析"), "changes": (_changes, "变动情况统计"), "ledger": (_ledger, "历史台账")}


def _charts(tables):
    return [spec for spec in (t.chart_spec() for t in tables) if spec]


def _office_args(scope):
    """The ?office= that reproduces a chosen office (links and exports); none for the reader's own."""
    chosen = scope.office is not None and scope.office.id != current_user.office_id
    return {"office": scope.office.code} if chosen else {}


def _render(template, page, build, arg_names):
    scope = _scope()
    context, tables = build(scope)
    export_args = {**{name: context[key].isoformat() for key, name in arg_names.items()}, **_office_args(scope)}
    return render_template(template, tables=tables, charts=_charts(tables), page=page, export_args=export_args,
                           scope=scope, office_choices=jurisdiction.choices(current_user), **context)


@bp.get("/statistics")
@login_required
def index():
    return _render("statistics/index.html", "overview", _overview, {"day": "date"})


@bp.get("/statistics/changes")
@login_required
def changes():
    return _render("statistics/changes.html", "changes", _changes, {"start": "from", "end": "to"})


@bp.get("/statistics/ledger")
@login_required
def ledger():
    return _render("statistics/ledger.html", "ledger", _ledger, {"day": "date"})


def _send(tables, filename, action, target, scope, **detail):
    chosen = request.args.get("table")
    if chosen:
        tables = [t for t in tables if t.key == chosen]
        if not tables:
            raise ValidationFailed(f"没有统计表「{chosen}」", fields={"table": ["统计表不存在"]})
    out = statistics.workbook(tables, scope.label)
    audit(current_user, action, target, ip=request.remote_addr,
          tables=[t.key for t in tables], scope=scope.label, **detail)
    name = filename if len(tables) != 1 else f"{filename.removesuffix('.xlsx')}-{tables[0].title}.xlsx"
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.get("/statistics/export.xlsx")
@login_required
def export():
    """?page=overview|changes|ledger (&table=KEY for one table, &office=CODE for one office below
    the reader's), with the page's own arguments."""
    page = request.args.get("page") or "overview"
    if page not in PAGES:
        raise ValidationFailed(f"没有统计页面「{page}」", fields={"page": ["统计页面不存在"]})
    build, title = PAGES[page]
    scope = _scope()
    context, tables = build(scope)
    names = {"day": "date", "start": "from", "end": "to"}
    detail = {names[k]: v.isoformat() for k, v in context.items()}
    return _send(tables, f"{title}.xlsx", "statistics.export", page, scope, **detail)


# -- 审批监测 -----------------------------------------------------------------------------------

def pct(value):
    return "—" if value is None else f"{value * 100:.1f}%"


def _num(value):
    if value is None:
        return "—"
    return int(value) if float(value).is_integer() else round(value, 1)


CASE_HEADER = ["受理", "办结", "撤回", "办理时长中位数（工作日）", "办理时长P90（工作日）", "有时限环节", "超期环节",
               "超期率", "曾被退回", "退回率", "一次性通过", "一次性通过率"]
LINKED = {1: "started", 2: "finished", 3: "withdrawn", 7: "overdue", 9: "returned", 11: "first_pass"}


def _case_cells(row):
    return [row["started"], row["finished"], row["withdrawn"], _num(row["median_workdays"]),
            _num(row["p90_workdays"]), row["steps_with_limit"], row["overdue"], pct(row["overdue_rate"]),
            row["returned"], pct(row["return_rate"]), row["first_pass"], pct(row["first_pass_rate"])]


def _case_table(key, title, label, rows, filters, label_of, args_of, chart="bar"):
    table = Table(key, title, [label, *CASE_HEADER], [], chart=chart, series=[1, 2])
    for i, row in enumerate(rows):
        table.rows.append([label_of(row), *_case_cells(row)])
        for column, measure in LINKED.items():
            if table.rows[-1][column]:
                table.links[(i, column)] = url_for("statistics.monitoring_cases",
                                                   **filters.args(measure=measure, **args_of(row)))
    return table


def monitoring_tables(report, filters):
    total = _case_table("total", f"审批监测总览（{report['from']} 至 {report['to']}）", "范围", [report["total"]],
                        filters, lambda r: "全部", lambda r: {"month": filters.month}, chart=None)
    by_process = _case_table("by_process", "按流程", "流程", report["by_process"], filters, lambda r: r["name"],
                             lambda r: {"process": r["process"], "month": filters.month})
    by_unit = _case_table("by_unit", "按单位", "单位", report["by_unit"], filters, lambda r: r["name"],
                          lambda r: {"unit": r["unit"], "month": filters.month})
    by_month = _case_table("by_month", "按月份", "月份", report["by_month"], filters, lambda r: r["month"],
                           lambda r: {"month": r["month"]}, chart="line")
    steps = Table("by_step", "按环节", ["流程", "环节", "到达", "已办", "环节用时中位数（工作日）", "环节用时P90（工作日）",
                                     "有时限", "超期", "超期率", "审核决定", "退回", "退回率"], [], chart="bar",
                  label_col=1, series=[2, 7])
    for i, r in enumerate(report["by_step"]):
        steps.rows.append([r["process_name"], r["name"], r["opened"], r["closed"], _num(r["median_workdays"]),
                           _num(r["p90_workdays"]), r["steps_with_limit"], r["overdue"], pct(r["overdue_rate"]),
                           r["decided"], r["returned"], pct(r["return_rate"])])
        if r["overdue"]:
            steps.links[(i, 7)] = url_for("statistics.monitoring_cases", **filters.args(
                measure="overdue", process=r["process"], step=r["step"], month=filters.month))
    return [total, by_process, steps, by_unit, by_month]


def _monitoring():
    filters = monitoring.parse_filters(current_user, request.args)
    report = monitoring.report(current_user, filters)
    return filters, report, monitoring_tables(report, filters)


@bp.get("/monitoring")
@login_required
def monitoring_index():
    filters, report, tables = _monitoring()
    return render_template("statistics/monitoring.html", filters=filters, report=report, tables=tables,
                           charts=_charts(tables), processes=monitoring.process_names(), page="monitoring",
                           steps=monitoring.step_choices(filters.process), scope=filters.scope,
                           office_choices=jurisdiction.choices(current_user),
                           own_unit=not filters.scope.by_office, export_args=filters.args(month=filters.month))


@bp.get("/monitoring/cases")
@login_required
def monitoring_cases():
    filters = monitoring.parse_filters(current_user, request.args)
    measure = request.args.get("measure") or "started"
    rows, count, units = monitoring.drill_down(current_user, filters, measure)
    return render_template("statistics/monitoring_cases.html", filters=filters, rows=rows, count=count, units=units,
                           measure=measure, measure_label=monitoring.MEASURES[measure],
                           processes=monitoring.process_names(), states=STATE_LABELS, limit=monitoring.DRILL_LIMIT,
                           page="monitoring", scope=filters.scope)


@bp.get("/monitoring/export.xlsx")
@login_required
def monitoring_export():
    filters, _report, tables = _monitoring()
    return _send(tables, "审批监测.xlsx", "monitoring.export", "monitoring", filters.scope,
                 **filters.args(month=filters.month))
