"""年度用编计划 and 用编计划增加: checking a unit's plan application, and reserving the approved
plan lines for their year (Reservation kind 'plan').

An approved plan line holds its places out of the vacancy (vacancy = approved − on roll −
reserved); vacancy use by a recruitment channel (公开招聘, 考录) then draws on the year's lines
of that channel (vacancy.reserve), so the unit's figures do not move a second time. Because a
plan must fit in the vacancy, a unit at full establishment can only plan after someone leaves
("出一进一"), and a unit over establishment cannot plan at all.
"""
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from .. import clock
from ..cases.models import Case
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..processes.registry import operation, rule
from ..util import local
from .models import Person, Reservation, Unit
from .operations import chronicle, figure, figures, lock_establishment, vacancy_message
from .policy import setting

ANNUAL, EXTRA = "annual_plan", "extra_plan"
LATE_EXITS_NAMED = 3  # how many late exits a refusal names


def _own_unit(user, values):
    unit = user.unit
    if unit is None or values.get("unit") != unit.code:
        where = f"（{unit.name}，{unit.code}）" if unit is not None else ""
        raise Forbidden("只能为本单位申请用编计划", fields={"unit": [f"只能为本单位{where}申请"]})
    return unit


def allowed_years(kind, today=None):
    """年度用编计划: this year or next (units apply for next year's places; this year's are
    accepted too). 用编计划增加: this year only."""
    year = (today or clock.today()).year
    return (year, year + 1) if kind == ANNUAL else (year,)


def check_year(kind, year, today=None):
    years = allowed_years(kind, today)
    if year in years:
        return
    if kind == ANNUAL:
        message = f"年度用编计划只能申请 {years[0]} 年或 {years[1]} 年的计划，填写的是 {year} 年"
    else:
        message = (f"用编计划增加只能申请本年度（{years[0]} 年）的计划，填写的是 {year} 年"
                   + ("；下一年度的计划请申请「年度用编计划」" if year == years[0] + 1 else ""))
    raise ValidationFailed(message, fields={"year": [message]})


def check_decision_date(values, today=None):
    """The unit's leadership team must have decided before the unit applies."""
    when = values.get("team_date")
    if when and date.fromisoformat(when) > (today or clock.today()):
        message = f"党组（班子）会议决定日期 {when} 晚于今天；请在会议作出决定后再申请"
        raise ValidationFailed(message, fields={"team_date": [message]})


def late_exits(unit, today=None):
    """[(person, exit case or None)] for people of `unit` whose exit was filed late, where the
    exit date or the day the exit case was decided lies within the lookback window. Counting
    the decision day too keeps a very late filing (exit date long ago) from escaping."""
    since = (today or clock.today()) - timedelta(days=setting("LATE_EXIT_LOOKBACK_DAYS"))
    rows = db.session.execute(
        select(Person, Case).outerjoin(Case, Case.id == Person.exit_case_id)
        .where(Person.unit_id == unit.id, Person.exit_late.is_(True),
               or_(Person.left_date >= since, Case.finished_at >= datetime.combine(since, time.min)))
        .order_by(Person.left_date.desc(), Person.id))
    return [(person, case) for person, case in rows.all()]


def _late_exit_text(person, case):
    text = f"{person.name}（人员编码 {person.code}）于 {person.left_date.isoformat() if person.left_date else '（未填）'} 出编"
    if case is not None and case.finished_at is not None:
        text += f"，出编案件 {case.number} 于 {local(case.finished_at, '%Y-%m-%d')} 办结"
    return text


def check_late_exits(unit, today=None):
    """A unit that missed an exit deadline gets its plan applications refused (DESIGN: 出编
    within 15 working days; "a unit that misses exit deadlines gets its next plan
    applications refused")."""
    late = late_exits(unit, today)
    if not late:
        return
    named = "；".join(_late_exit_text(person, case) for person, case in late[:LATE_EXITS_NAMED])
    more = f"等 {len(late)} 人" if len(late) > LATE_EXITS_NAMED else ""
    days = setting("EXIT_DEADLINE_WORKDAYS")
    lookback = setting("LATE_EXIT_LOOKBACK_DAYS")
    message = (f"{unit.name}有逾期办理的出编：{named}{more}，未在 {days} 个工作日内办理出编手续。"
               f"近 {lookback} 天内有逾期出编的单位，用编计划申请不予受理")
    raise ValidationFailed(message, code="late_exit", fields={"unit": [message]})


def check_one_annual_plan(unit, year, case=None):
    """One annual plan per unit and year: while one is running or approved, more places for
    that year go through 用编计划增加 (with its bureau-meeting threshold)."""
    query = select(Case).where(Case.process_key == ANNUAL, Case.unit_id == unit.id,
                               Case.state.in_(("running", "approved"))).order_by(Case.id)
    for other in db.session.scalars(query):
        if case is not None and other.id == case.id:
            continue
        if str((other.data or {}).get("year")) == str(year):
            message = (f"{unit.name}{year} 年度用编计划已有案件 {other.number}（{other.state_label}）；"
                       f"年度用编计划每年一份，如需增加请申请「用编计划增加」")
            raise ValidationFailed(message, code="plan_exists", fields={"year": [message]})


def merge_lines(lines):
    """{(category, channel): count}, equal lines added up, in the order first seen."""
    merged = {}
    for line in lines:
        key = (line["category"], line["channel"])
        merged[key] = merged.get(key, 0) + int(line["count"])
    return merged


def totals_by_category(lines):
    totals = {}
    for line in lines:
        totals[line["category"]] = totals.get(line["category"], 0) + int(line["count"])
    return totals


def over_message(unit, fig):
    return (f"{unit.name}{fig['category']}超编：核定 {fig['approved']} 名，在编 {fig['on_roll']} 名，"
            f"超编 {fig['on_roll'] - fig['approved']} 名；超编单位不得新增人员，不能申请用编计划")


def shortage_message(unit, fig, wanted):
    """Why `wanted` places of fig's category cannot be planned, with the figures."""
    if fig["on_roll"] > fig["approved"]:
        return over_message(unit, fig)
    message = vacancy_message(unit, fig, wanted)
    if fig["vacancy"] <= 0:
        message += "（满编单位实行\u201c出一进一\u201d，须有人员出编后再申请）"
    return message


def check_lines(unit, lines):
    """Each line's category is one the unit has; per category the planned total fits in the
    current vacancy; a category over establishment may add nobody. Raises ValidationFailed
    with field errors on the lines concerned."""
    figs = {f["category"]: f for f in figures(unit)}
    errors, messages = {}, []
    for i, line in enumerate(lines):
        if line["category"] not in figs:
            has = "、".join(figs) or "无"
            text = f"{unit.name}没有核定{line['category']}（本单位核定的编制类型：{has}）"
            errors[i] = {"category": [text]}
            if text not in messages:
                messages.append(text)
    if not errors:
        for category, wanted in totals_by_category(lines).items():
            fig = figs[category]
            if fig["on_roll"] > fig["approved"] or wanted > fig["vacancy"]:
                text = shortage_message(unit, fig, wanted)
                messages.append(text)
                field = "category" if fig["on_roll"] > fig["approved"] else "count"
                for i, line in enumerate(lines):
                    if line["category"] == category:
                        errors[i] = {field: [text]}
    if errors:
        raise ValidationFailed("；".join(messages), fields={"lines": errors})


def check_application(kind, ctx, values, today=None):
    unit = _own_unit(ctx.user, values)
    year = int(values["year"])
    check_year(kind, year, today)
    check_decision_date(values, today)
    check_late_exits(unit, today)
    if kind == ANNUAL:
        check_one_annual_plan(unit, year, ctx.case)
    check_lines(unit, values.get("lines") or [])


@rule("annual_plan_allowed")
def annual_plan_allowed(ctx, values):
    """年度用编计划 application (and its resubmission after a return)."""
    check_application(ANNUAL, ctx, values)


@rule("extra_plan_allowed")
def extra_plan_allowed(ctx, values):
    """用编计划增加 application (and its resubmission after a return)."""
    check_application(EXTRA, ctx, values)


def reserve_lines(user, case, unit, year, lines):
    """Reserve the approved plan lines: one Reservation(kind='plan') per (category, channel).
    Re-checked under the establishment row locks, so of two plans racing for the last places
    one is approved and the other gets a Conflict with the figures."""
    if year < clock.today().year:
        raise Conflict(f"计划年度 {year} 年已过，不能再核准预留编制；请退回单位修改计划年度，或不予通过",
                       code="plan_year_past")
    merged = merge_lines(lines)
    wanted = totals_by_category(lines)
    for category in sorted(wanted):  # one lock order for every process: no deadlocks
        lock_establishment(unit, category)
    figs = {category: figure(unit, category) for category in wanted}
    short = [shortage_message(unit, figs[c], n) for c, n in wanted.items()
             if figs[c]["on_roll"] > figs[c]["approved"] or n > figs[c]["vacancy"]]
    if short:
        raise Conflict("；".join(short), code="no_vacancy")
    reservations = []
    for (category, channel), count in merged.items():
        fig = figs[category]
        reservation = Reservation(kind="plan", unit_id=unit.id, category=category, year=year, channel=channel,
                                  case_id=case.id, count=count)
        db.session.add(reservation)
        db.session.flush()
        chronicle(user, case, unit, "reservation", reservation.id, "plan",
                  f"{case.number} 核准{year}年度用编计划：{channel}{category} {count} 名，预留编制",
                  before={"vacancy": fig["vacancy"], "reserved": fig["reserved"]},
                  after={"vacancy": fig["vacancy"] - count, "reserved": fig["reserved"] + count},
                  delta={"category": category, "reserved": count})
        fig["vacancy"] -= count
        fig["reserved"] += count
        reservations.append(reservation)
    return reservations


def plan_reservations(case):
    return db.session.scalars(select(Reservation).where(Reservation.case_id == case.id, Reservation.kind == "plan")
                              .order_by(Reservation.id)).all()


@operation("reserve_plan")
def reserve_plan(ctx, data):
    reservations = reserve_lines(ctx.user, ctx.case, ctx.case.unit, int(data["year"]), data.get("lines") or [])
    return {"plan_reservations": [r.id for r in reservations]}


def expire_plan_lines(user=None, today=None):
    """Year end: close the plan lines of past years and give their unused places back to the
    vacancy (a plan is for its year and is not carried over). For a year-end job or CLI
    command; nothing calls it on its own yet. Returns the lines closed."""
    year = (today or clock.today()).year
    lines = db.session.scalars(select(Reservation).where(Reservation.kind == "plan", Reservation.status == "active",
                                                         Reservation.year < year)
                               .order_by(Reservation.unit_id, Reservation.category, Reservation.id)).all()
    closed = []
    for line in lines:
        unit = db.session.get(Unit, line.unit_id)
        lock_establishment(unit, line.category)
        db.session.refresh(line)  # under the lock: a draw may have committed meanwhile
        if line.status != "active":
            continue
        held = line.remaining
        line.status = "closed"
        case = db.session.get(Case, line.case_id)
        chronicle(user, case, unit, "reservation", line.id, "expire",
                  f"{case.number} {line.year}年度用编计划{line.channel}{line.category}未使用 {held} 名，年度结束释放",
                  before={"count": line.count, "used": line.used, "status": "active"},
                  after={"count": line.count, "used": line.used, "status": "closed"},
                  delta={"category": line.category, "reserved": -held})
        closed.append(line)
    db.session.flush()
    return closed
