"""Ledger rules: figures, reservations, registration. They take the acting user, change the
session, flush, never commit; they raise domain errors in Chinese."""
import secrets
from datetime import date

from sqlalchemy import func, select

from ..accounts.models import BUREAU_READERS
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from . import idnumber
from .models import ChronicleEntry, Establishment, Person, Reservation, Unit

# Person fields that have their own column; the rest of a record goes into Person.details.
PERSON_COLUMNS = {"name", "id_number", "entry_date", "education", "post"}
MIN_AGE_AT_ENTRY = 18


def can_view_unit(user, unit):
    """Bureau staff and auditors see every unit; a unit clerk only their own."""
    if user.has_role(*BUREAU_READERS):
        return True
    return user.has_role("unit_clerk") and user.unit_id == unit.id


def unit_by_code(code):
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise NotFound(f"没有统一社会信用代码为 {code} 的单位")
    return unit


def _on_roll_counts(unit_id):
    rows = db.session.execute(
        select(Person.category, func.count()).where(Person.unit_id == unit_id, Person.status == "on_roll")
        .group_by(Person.category))
    return dict(rows.all())


def _reserved_counts(unit_id):
    rows = db.session.execute(
        select(Reservation.category, func.sum(Reservation.count - Reservation.used))
        .where(Reservation.unit_id == unit_id, Reservation.status == "active").group_by(Reservation.category))
    return {k: int(v or 0) for k, v in rows.all()}


def warning(approved, on_roll, vacancy):
    """三级预警: red when over establishment, yellow when no vacancy is left, else green."""
    if on_roll > approved:
        return "red"
    if vacancy <= 0:
        return "yellow"
    return "green"


def figures(unit):
    """Per category: approved, on roll, reserved, vacancy, warning."""
    on_roll = _on_roll_counts(unit.id)
    reserved = _reserved_counts(unit.id)
    result = []
    for est in db.session.scalars(select(Establishment).where(Establishment.unit_id == unit.id)
                                  .order_by(Establishment.id)):
        n, r = on_roll.get(est.category, 0), reserved.get(est.category, 0)
        vacancy = est.approved - n - r
        result.append({"category": est.category, "approved": est.approved, "on_roll": n,
                       "reserved": r, "vacancy": vacancy, "warning": warning(est.approved, n, vacancy)})
    return result


def figure(unit, category):
    return next((f for f in figures(unit) if f["category"] == category), None)


def lock_establishment(unit, category):
    """Lock the (unit, category) row so that concurrent reservations and registrations for
    it queue; the vacancy computed afterwards is exact."""
    est = db.session.scalar(select(Establishment)
                            .where(Establishment.unit_id == unit.id, Establishment.category == category)
                            .with_for_update().execution_options(populate_existing=True))
    if est is None:
        raise ValidationFailed(f"{unit.name}没有核定{category}", fields={"category": [f"本单位没有核定{category}"]})
    return est


def vacancy_message(unit, fig, wanted):
    return (f"{unit.name}{fig['category']}空编不足：核定 {fig['approved']} 名，在编 {fig['on_roll']} 名，"
            f"已预留 {fig['reserved']} 名，空编 {max(fig['vacancy'], 0)} 名，本次申请 {wanted} 名")


def check_vacancy(unit, category, count):
    """Raise ValidationFailed unless `count` places of `category` are vacant (advisory, no lock)."""
    fig = figure(unit, category)
    if fig is None:
        raise ValidationFailed(f"{unit.name}没有核定{category}", fields={"category": [f"本单位没有核定{category}"]})
    if count > fig["vacancy"]:
        raise ValidationFailed(vacancy_message(unit, fig, count), fields={"count": [vacancy_message(unit, fig, count)]})
    return fig


def chronicle(user, case, unit, entity, entity_id, action, summary, before=None, after=None):
    entry = ChronicleEntry(user_id=user.id if user else None, case_id=case.id if case else None,
                           unit_id=unit.id if unit else None, entity=entity, entity_id=entity_id,
                           action=action, summary=summary, before=before, after=after)
    db.session.add(entry)
    return entry


def reserve(user, case, unit, category, count):
    """Reserve `count` places for an approved case; exactly one of two concurrent
    approvals for the last place wins, the other gets a Conflict with the figures."""
    lock_establishment(unit, category)
    fig = figure(unit, category)
    if count > fig["vacancy"]:
        raise Conflict(vacancy_message(unit, fig, count), code="no_vacancy")
    reservation = Reservation(unit_id=unit.id, category=category, case_id=case.id, count=count)
    db.session.add(reservation)
    db.session.flush()
    chronicle(user, case, unit, "reservation", reservation.id, "reserve",
              f"{case.number} 核准使用{category} {count} 名，预留编制",
              before={"vacancy": fig["vacancy"], "reserved": fig["reserved"]},
              after={"vacancy": fig["vacancy"] - count, "reserved": fig["reserved"] + count})
    return reservation


def active_reservation(case):
    return db.session.scalar(select(Reservation).where(Reservation.case_id == case.id,
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
        age = entry.year - info.birth_date.year - ((entry.month, entry.day) < (info.birth_date.month, info.birth_date.day))
        if age < MIN_AGE_AT_ENTRY:
            problems.append(f"入编时未满{MIN_AGE_AT_ENTRY}周岁")
        if problems:
            errors[i] = {"id_number": problems}
    if errors:
        raise ValidationFailed("落编人员信息有误", fields={"people": errors})
    return reservation


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
        person = Person(code="BZ" + secrets.token_hex(5).upper(), name=record["name"], id_number=info.number,
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
                         "entry_date": record["entry_date"]})
        added.append(person)
    before = {"count": reservation.count, "used": reservation.used}
    reservation.used += len(added)
    reservation.status = "closed"
    chronicle(user, case, unit, "reservation", reservation.id, "consume",
              f"{case.number} 使用预留编制 {len(added)} 名" +
              (f"，释放未使用 {reservation.count - reservation.used} 名" if reservation.count > reservation.used else ""),
              before=before, after={"count": reservation.count, "used": reservation.used, "status": "closed"})
    db.session.flush()
    return added


def release(user, case):
    """Release what is left of a case's reservation (a case that ends without registering)."""
    reservation = active_reservation(case)
    if reservation is None:
        return None
    reservation.status = "closed"
    chronicle(user, case, case.unit, "reservation", reservation.id, "release",
              f"{case.number} 释放预留编制 {reservation.count - reservation.used} 名",
              before={"status": "active"}, after={"status": "closed"})
    return reservation
