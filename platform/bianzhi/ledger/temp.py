"""临聘人员: approving a unit's temporary-staff quota (count, posts, funding, period) and putting
the named temp staff on the temp register. Temp staff are 编外: they never touch the
establishment figures, so their chronicle entries carry no figure delta."""
from calendar import monthrange
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..cases.models import Case
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..processes.registry import operation, rule
from . import idnumber
from .models import Person, TempQuota, TempStaff, Unit
from .operations import chronicle
from .policy import setting

# how far back an application may date the start of the period (用工已开始的补报)
START_BACKDATE_DAYS = 30


def add_months(day, months):
    """The same day `months` later, clamped to the month's end (2026-01-31 + 1 → 2026-02-28)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, monthrange(year, month0 + 1)[1]))


def latest_end(start, months):
    """The last day of a period of `months` months starting on `start` (both days included)."""
    return add_months(start, months) - timedelta(days=1)


def _date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def check_application(values, today=None):
    """Field errors of an application: end after start, at most TEMP_MAX_MONTHS, start not
    more than 30 days back. Raises ValidationFailed naming every field at once."""
    today = today or clock.today()
    start, end = _date(values["start_date"]), _date(values["end_date"])
    errors = {}
    if int(values["count"]) < 1:
        errors["count"] = ["临聘人数至少 1 名"]
    earliest = today - timedelta(days=START_BACKDATE_DAYS)
    if start < earliest:
        errors["start_date"] = [f"开始日期不能早于 {earliest}（最多补报 {START_BACKDATE_DAYS} 天前已开始的用工）"]
    months = int(setting("TEMP_MAX_MONTHS"))
    if end <= start:
        errors["end_date"] = ["结束日期应晚于开始日期"]
    elif end > latest_end(start, months):
        errors["end_date"] = [f"聘用期限最长 {months} 个月：自 {start} 起最晚至 {latest_end(start, months)}"]
    if errors:
        raise ValidationFailed("临聘人员申请有误：" + "；".join(m for ms in errors.values() for m in ms),
                               fields=errors)


def quota_of(case, lock=False):
    query = select(TempQuota).where(TempQuota.case_id == case.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def remaining(quota):
    return quota.count - quota.used


def _where_active(number):
    """Where a person with this ID number already is: a field message, or None."""
    temp = db.session.scalar(select(TempStaff).where(TempStaff.id_number == number, TempStaff.status == "active"))
    if temp is not None:
        case_number = db.session.scalar(select(Case.number).where(Case.id == temp.case_id))
        unit_name = db.session.scalar(select(Unit.name).where(Unit.id == temp.unit_id))
        return (f"此人已在{unit_name}临聘（{case_number}，{temp.start_date} 至 {temp.end_date}），"
                f"不能重复登记")
    person = db.session.scalar(select(Person).where(Person.id_number == number, Person.status == "on_roll"))
    if person is not None:
        return f"此人已在{person.unit.name}在编（编码 {person.code}），在编人员不能登记为临聘人员"
    return None


def check_staff(case, quota, staff):
    """Registration checks: no more people than the quota's remaining places, each person once,
    nobody already on a temp register or the roll, adult, each period inside the approved one.
    Raises ValidationFailed."""
    if quota is None:
        raise Conflict("本案没有核准的临聘人员指标", code="no_temp_quota")
    left = remaining(quota)
    if len(staff) > left:
        message = (f"核准临聘人员 {quota.count} 名，已登记 {quota.used} 名，剩余 {left} 名，"
                   f"本次登记 {len(staff)} 名")
        raise ValidationFailed(message, fields={"staff": [message]})
    errors, seen = {}, {}
    min_age = setting("MIN_AGE_AT_ENTRY")
    for i, row in enumerate(staff):
        problems = {}
        info = idnumber.parse(row["id_number"])
        ids = []
        if info.number in seen:
            ids.append(f"与第 {seen[info.number] + 1} 人身份证号重复")
        else:
            seen[info.number] = i
            where = _where_active(info.number)
            if where:
                ids.append(where)
        start, end = _date(row["start_date"]), _date(row["end_date"])
        age = start.year - info.birth_date.year - ((start.month, start.day) <
                                                   (info.birth_date.month, info.birth_date.day))
        if age < min_age:
            ids.append(f"聘用开始时未满{min_age}周岁")
        if ids:
            problems["id_number"] = ids
        if start < quota.start_date:
            problems["start_date"] = [f"不能早于核准期限的开始日期 {quota.start_date}"]
        elif start > quota.end_date:
            problems["start_date"] = [f"不能晚于核准期限的结束日期 {quota.end_date}"]
        if end <= start:
            problems["end_date"] = ["结束日期应晚于开始日期"]
        elif end > quota.end_date:
            problems["end_date"] = [f"不能晚于核准期限的结束日期 {quota.end_date}"]
        if problems:
            errors[i] = problems
    if errors:
        raise ValidationFailed("临聘人员信息有误，请按提示修改", fields={"staff": errors})


def approve_quota(user, case, data):
    """The leader approved: the unit may use `count` temp staff on these posts for the period."""
    quota = TempQuota(unit_id=case.unit_id, case_id=case.id, count=int(data["count"]), used=0,
                      posts=data["posts"], funding=data["funding"],
                      start_date=_date(data["start_date"]), end_date=_date(data["end_date"]))
    db.session.add(quota)
    db.session.flush()
    chronicle(user, case, case.unit, "temp_quota", quota.id, "approve",
              f"{case.number} 核准临聘人员 {quota.count} 名（{quota.posts}；{quota.funding}；"
              f"{quota.start_date} 至 {quota.end_date}）",
              before=None, after={"count": quota.count, "used": 0, "posts": quota.posts, "funding": quota.funding,
                                  "start_date": quota.start_date.isoformat(),
                                  "end_date": quota.end_date.isoformat()})
    return quota


def register_staff(user, case, staff):
    """Put the named temp staff on the temp register; the quota's `used` grows. Re-checked
    under a row lock on the quota; an ID number registered concurrently by another case is
    refused by the partial unique index and answered with a 409."""
    quota = quota_of(case, lock=True)
    check_staff(case, quota, staff)
    unit = case.unit
    added = []
    try:
        with db.session.begin_nested():
            for row in staff:
                info = idnumber.parse(row["id_number"])
                member = TempStaff(unit_id=unit.id, quota_id=quota.id, case_id=case.id, name=row["name"],
                                   id_number=info.number, sex=info.sex, birth_date=info.birth_date,
                                   post=row["post"], start_date=_date(row["start_date"]),
                                   end_date=_date(row["end_date"]), status="active")
                db.session.add(member)
                added.append(member)
            db.session.flush()
    except IntegrityError:
        raise Conflict("登记的人员刚被其他案件登记为临聘人员，请刷新后核对", code="temp_staff_taken") from None
    for member in added:
        chronicle(user, case, unit, "temp_staff", member.id, "register",
                  f"{case.number} {member.name} 登记为临聘人员（{member.post}，{member.start_date} 至 {member.end_date}）",
                  before=None, after={"name": member.name, "id_number": member.id_number, "post": member.post,
                                      "start_date": member.start_date.isoformat(),
                                      "end_date": member.end_date.isoformat()})
    before = {"count": quota.count, "used": quota.used}
    quota.used += len(added)
    chronicle(user, case, unit, "temp_quota", quota.id, "use",
              f"{case.number} 使用临聘人员指标 {len(added)} 名，剩余 {remaining(quota)} 名",
              before=before, after={"count": quota.count, "used": quota.used})
    db.session.flush()
    return added


@rule("temp_staff_application")
def temp_staff_application(ctx, values):
    """临聘人员 application: the clerk's own unit, a sensible period."""
    user = ctx.user
    if values.get("unit") != user.unit.code:
        raise Forbidden("只能为本单位申请", fields={"unit": [f"只能为本单位（{user.unit.name}，{user.unit.code}）申请"]})
    check_application(values)


@rule("temp_staff_registration")
def temp_staff_registration(ctx, values):
    check_staff(ctx.case, quota_of(ctx.case), values.get("staff") or [])


@operation("approve_temp_quota")
def approve_temp_quota(ctx, data):
    quota = approve_quota(ctx.user, ctx.case, data)
    return {"temp_quota_id": quota.id}


@operation("register_temp_staff")
def register_temp_staff(ctx, data):
    added = register_staff(ctx.user, ctx.case, data.get("staff") or [])
    return {"temp_staff_ids": [m.id for m in added]}
