"""空编使用 → 落编: reserving places for an approved case (from the vacancy, or drawn from the
year's plan for recruitment channels) and registering the hired people."""
import secrets
from datetime import date

from sqlalchemy import select

from .. import clock
from ..errors import Conflict, Forbidden, ValidationFailed
from ..extensions import db
from ..processes.registry import operation, rule
from . import idnumber
from .models import Person, Reservation
from .operations import check_vacancy, chronicle, figure, lock_establishment, vacancy_message
from .policy import setting

# Person fields that have their own column; the rest of a record goes into Person.details.
PERSON_COLUMNS = {"name", "id_number", "entry_date", "education", "post"}


def plan_lines(unit, category, year, channel, lock=False):
    query = (select(Reservation).where(Reservation.kind == "plan", Reservation.unit_id == unit.id,
                                       Reservation.category == category, Reservation.year == year,
                                       Reservation.channel == channel, Reservation.status == "active")
             .order_by(Reservation.id))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).all()


def plan_message(unit, category, year, channel, left, wanted):
    return (f"{unit.name}{year}年度用编计划中{channel}{category}剩余 {left} 名，本次申请 {wanted} 名"
            f"（{channel}须在核准的年度用编计划内使用，可先申请增加用编计划）")


def check_application(unit, category, count, channel, year):
    """Advisory check when the unit applies: recruitment channels need plan places, the others
    the vacancy. Raises ValidationFailed with the figures."""
    if channel in setting("RECRUITMENT_CHANNELS"):
        if figure(unit, category) is None:
            check_vacancy(unit, category, count)  # raises: no such category
        left = sum(r.remaining for r in plan_lines(unit, category, year, channel))
        if count > left:
            message = plan_message(unit, category, year, channel, left, count)
            raise ValidationFailed(message, fields={"count": [message]})
    else:
        # transfers and placements: the year's plan line of that channel first, then the vacancy
        left = sum(r.remaining for r in plan_lines(unit, category, year, channel))
        if count > left:
            check_vacancy(unit, category, count - left)


def _draw(lines, count):
    """Take `count` places from the plan lines, oldest first."""
    need = count
    for line in lines:
        take = min(need, line.remaining)
        line.used += take
        need -= take
        if need == 0:
            break


def reserve(user, case, unit, category, count, channel=None, year=None):
    """Hold `count` places for an approved case. Exactly one of two concurrent approvals for
    the last places wins; the other gets a Conflict with the figures."""
    year = year or clock.today().year
    lock_establishment(unit, category)
    fig = figure(unit, category)
    if channel in setting("RECRUITMENT_CHANNELS"):
        lines = plan_lines(unit, category, year, channel, lock=True)
        left = sum(r.remaining for r in lines)
        if count > left:
            raise Conflict(plan_message(unit, category, year, channel, left, count), code="no_plan")
        need = count
        for line in lines:
            take = min(need, line.remaining)
            line.used += take
            need -= take
            if need == 0:
                break
        reservation = Reservation(kind="case", unit_id=unit.id, category=category, case_id=case.id, count=count,
                                  channel=channel, year=year, source_id=lines[0].id)
        db.session.add(reservation)
        db.session.flush()
        chronicle(user, case, unit, "reservation", reservation.id, "draw",
                  f"{case.number} 核准{channel}使用{category} {count} 名，从{year}年度用编计划中预留",
                  before={"plan_left": left}, after={"plan_left": left - count},
                  delta={"category": category, "reserved": 0})
        return reservation
    lines = plan_lines(unit, category, year, channel, lock=True) if channel else []
    drawn = min(count, sum(r.remaining for r in lines))
    need = count - drawn  # what the vacancy must still cover
    if need > fig["vacancy"]:
        raise Conflict(vacancy_message(unit, fig, need), code="no_vacancy")
    _draw(lines, drawn)
    reservation = Reservation(kind="case", unit_id=unit.id, category=category, case_id=case.id, count=count,
                              channel=channel, year=year, source_id=lines[0].id if drawn else None)
    db.session.add(reservation)
    db.session.flush()
    chronicle(user, case, unit, "reservation", reservation.id, "reserve",
              f"{case.number} 核准使用{category} {count} 名，预留编制"
              + (f"（其中 {drawn} 名从{year}年度用编计划中预留）" if drawn else ""),
              before={"vacancy": fig["vacancy"], "reserved": fig["reserved"]},
              after={"vacancy": fig["vacancy"] - need, "reserved": fig["reserved"] + need},
              delta={"category": category, "reserved": need})
    return reservation


def active_reservation(case):
    return db.session.scalar(select(Reservation).where(Reservation.case_id == case.id, Reservation.kind == "case",
                                                       Reservation.status == "active"))


def check_people(case, people):
    """Registration checks that need the ledger: room in the case's reservation, ID numbers
    not on any roll and not twice in the list, adult at entry. Raises ValidationFailed."""
    reservation = active_reservation(case)
    room = reservation.remaining if reservation else 0
    if len(people) > room:
        raise ValidationFailed(f"本案预留编制 {room} 名，登记了 {len(people)} 人",
                               fields={"people": [f"最多登记 {room} 人（本案剩余预留编制数）"]})
    errors, seen = {}, {}
    min_age = setting("MIN_AGE_AT_ENTRY")
    for i, person in enumerate(people):
        info = idnumber.parse(person["id_number"])
        problems = []
        if info.number in seen:
            problems.append(f"与第 {seen[info.number] + 1} 人身份证号重复")
        seen[info.number] = i
        holder = db.session.scalar(select(Person).where(Person.id_number == info.number,
                                                        Person.status == "on_roll"))
        if holder is not None:
            problems.append(f"此人已在{holder.unit.name}在编（编码 {holder.code}）")
        entry = date.fromisoformat(person["entry_date"])
        age = entry.year - info.birth_date.year - ((entry.month, entry.day) < (info.birth_date.month,
                                                                               info.birth_date.day))
        if age < min_age:
            problems.append(f"入编时未满{min_age}周岁")
        if problems:
            errors[i] = {"id_number": problems}
    if errors:
        raise ValidationFailed("落编人员信息有误", fields={"people": errors})
    return reservation


def new_person_code():
    return "BZ" + secrets.token_hex(5).upper()


def register_people(user, case, people):
    """Put the named people on the roll, consume the case's reservation, release the rest."""
    unit = case.unit
    reservation = active_reservation(case)
    if reservation is None:
        raise Conflict("本案没有可用的预留编制", code="no_reservation")
    lock_establishment(unit, reservation.category)
    check_people(case, people)
    added = []
    for record in people:
        info = idnumber.parse(record["id_number"])
        details = {k: v for k, v in record.items() if k not in PERSON_COLUMNS}
        person = Person(code=new_person_code(), name=record["name"], id_number=info.number,
                        sex=info.sex, birth_date=info.birth_date, unit_id=unit.id, work_unit_id=unit.id,
                        category=reservation.category, status="on_roll",
                        entry_date=date.fromisoformat(record["entry_date"]),
                        education=record.get("education"), post=record.get("post"), details=details,
                        case_id=case.id)
        db.session.add(person)
        db.session.flush()
        chronicle(user, case, unit, "person", person.id, "register",
                  f"{case.number} {person.name} 落编（{reservation.category}）", before=None,
                  after={"name": person.name, "code": person.code, "category": person.category,
                         "entry_date": record["entry_date"]},
                  delta={"category": reservation.category, "on_roll": 1})
        added.append(person)
    before = {"count": reservation.count, "used": reservation.used}
    held = reservation.remaining
    reservation.used += len(added)
    reservation.status = "closed"
    chronicle(user, case, unit, "reservation", reservation.id, "consume",
              f"{case.number} 使用预留编制 {len(added)} 名" +
              (f"，释放未使用 {reservation.count - reservation.used} 名" if reservation.count > reservation.used else ""),
              before=before, after={"count": reservation.count, "used": reservation.used, "status": "closed"},
              delta={"category": reservation.category, "reserved": -held})
    db.session.flush()
    return added


def release(user, case):
    """Release what is left of a case's own reservation when it ends without using it.
    Plan lines (kind 'plan') stay: an approved plan holds its places for the year."""
    reservation = active_reservation(case)
    if reservation is None:
        return None
    held = reservation.remaining
    reservation.status = "closed"
    chronicle(user, case, case.unit, "reservation", reservation.id, "release",
              f"{case.number} 释放预留编制 {held} 名",
              before={"status": "active"}, after={"status": "closed"},
              delta={"category": reservation.category, "reserved": -held})
    return reservation


@rule("vacancy_available")
def vacancy_available(ctx, values):
    """空编使用 application: the clerk's own unit, a category it has, within the vacancy (or
    the year's plan for recruitment channels)."""
    user = ctx.user
    if values.get("unit") != user.unit.code:
        raise Forbidden("只能为本单位申请", fields={"unit": [f"只能为本单位（{user.unit.name}，{user.unit.code}）申请"]})
    check_application(user.unit, values["category"], values["count"], values.get("channel"), clock.today().year)


@rule("registration_people")
def registration_people(ctx, values):
    check_people(ctx.case, values.get("people") or [])


@operation("reserve_places")
def reserve_places(ctx, data):
    reservation = reserve(ctx.user, ctx.case, ctx.case.unit, data["category"], int(data["count"]),
                          data.get("channel"))
    return {"reservation_id": reservation.id}


@operation("register_people")
def register_people_step(ctx, data):
    people = register_people(ctx.user, ctx.case, data.get("people") or [])
    return {"registered": [p.code for p in people]}
