"""Pages and Excel downloads: /statistics (structure on a date), /statistics/changes,
/statistics/ledger (the ledger on any date) and /monitoring (审批监测) with its drill-down.
Every chart's rows are in a server-rendered table beside it; every download is audited."""
from flask import Blueprint, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from ..audit.operations import record as audit
from ..cases.models import STATE_LABELS
from ..errors import ValidationFailed
from . import monitoring
from . import operations as statistics
from .operations import XLSX, Table

bp = Blueprint("statistics", __name__)


def _overview():
    day = statistics.as_of_date(request.args.get("date"))
    return {"day": day}, statistics.overview_tables(current_user, day)


def _changes():
    start, end = statistics.period(request.args.get("from"), request.args.get("to"))
    return {"start": start, "end": end}, statistics.change_tables(current_user, start, end)


def _ledger():
    day = statistics.as_of_date(request.args.get("date"))
    return {"day": day}, [statistics.ledger_table(current_user, day)]


PAGES = {"overview": (_overview, "统计分析"), "changes": (_changes, "变动情况统计"), "ledger": (_ledger, "历史台账")}


def _charts(tables):
    return [spec for spec in (t.chart_spec() for t in tables) if spec]


@bp.get("/statistics")
@login_required
def index():
    context, tables = _overview()
    return render_template("statistics/index.html", tables=tables, charts=_charts(tables), page="overview",
                           export_args={"date": context["day"].isoformat()}, **context)


@bp.get("/statistics/changes")
@login_required
def changes():
    context, tables = _changes()
    return render_template("statistics/changes.html", tables=tables, charts=_charts(tables), page="changes",
                           export_args={"from": context["start"].isoformat(), "to": context["end"].isoformat()},
                           **context)


@bp.get("/statistics/ledger")
@login_required
def ledger():
    context, tables = _ledger()
    return render_template("statistics/ledger.html", tables=tables, charts=_charts(tables), page="ledger",
                           export_args={"date": context["day"].isoformat()}, **context)


def _send(tables, filename, action, target, **detail):
    chosen = request.args.get("table")
    if chosen:
        tables = [t for t in tables if t.key == chosen]
        if not tables:
            raise ValidationFailed(f"没有统计表「{chosen}」", fields={"table": ["统计表不存在"]})
    out = statistics.workbook(tables)
    audit(current_user, action, target, ip=request.remote_addr,
          tables=[t.key for t in tables], **detail)
    name = filename if len(tables) != 1 else f"{filename.removesuffix('.xlsx')}-{tables[0].title}.xlsx"
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.get("/statistics/export.xlsx")
@login_required
def export():
    """?page=overview|changes|ledger (&table=KEY for one table), with the page's own arguments."""
    page = request.args.get("page") or "overview"
    if page not in PAGES:
        raise ValidationFailed(f"没有统计页面「{page}」", fields={"page": ["统计页面不存在"]})
    build, title = PAGES[page]
    context, tables = build()
    names = {"day": "date", "start": "from", "end": "to"}
    detail = {names[k]: v.isoformat() for k, v in context.items()}
    return _send(tables, f"{title}.xlsx", "statistics.export", page, **detail)


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
    scope = monitoring.case_scope(current_user)
    return render_template("statistics/monitoring.html", filters=filters, report=report, tables=tables,
                           charts=_charts(tables), processes=monitoring.process_names(), page="monitoring",
                           steps=monitoring.step_choices(filters.process),
                           own_unit=scope is not None, export_args=filters.args(month=filters.month))


@bp.get("/monitoring/cases")
@login_required
def monitoring_cases():
    filters = monitoring.parse_filters(current_user, request.args)
    measure = request.args.get("measure") or "started"
    rows, count, units = monitoring.drill_down(current_user, filters, measure)
    return render_template("statistics/monitoring_cases.html", filters=filters, rows=rows, count=count, units=units,
                           measure=measure, measure_label=monitoring.MEASURES[measure],
                           processes=monitoring.process_names(), states=STATE_LABELS, limit=monitoring.DRILL_LIMIT,
                           page="monitoring")


@bp.get("/monitoring/export.xlsx")
@login_required
def monitoring_export():
    filters, _report, tables = _monitoring()
    return _send(tables, "审批监测.xlsx", "monitoring.export", "monitoring", **filters.args(month=filters.month))
