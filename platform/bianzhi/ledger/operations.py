"""The ledger core: figures and warnings, locks, the chronicle. Topic modules (vacancy, plans,
exits, posts, temp) build on it. Rules take the acting user, change the session, flush, never
commit; they raise domain errors in Chinese."""
from sqlalchemy import false, func, select

from ..errors import Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..organisation import scope
from ..organisation.models import Office
from .models import ChronicleEntry, Establishment, Person, PostQuota, Reservation, Unit

WARNING_LABELS = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}
OUT_OF_SCOPE = "没有统一社会信用代码为 {code} 的单位，或该单位不在您的查看范围内"


def office_ids(user):
    """The offices whose units `user` reads as a whole: bureau readers their office's jurisdiction
    and every office below it (organisation.scope); the finance bureau's service account the
    jurisdiction of the office it serves (head counts, 财供人数); anyone else none."""
    ids = scope.office_ids(user)
    if ids or not getattr(user, "is_authenticated", False) or not user.has_role("finance"):
        return ids
    office = db.session.get(Office, user.office_id) if user.office_id is not None else None
    return office.subtree_ids() if office is not None else []


def in_jurisdiction(user):
    """A WHERE clause on Unit: the units of `user`'s office_ids (false() for none)."""
    ids = office_ids(user)
    return Unit.office_id.in_(ids) if ids else false()


def partner_units(user):
    """The ids of the units whose cases are routed to the partner's department, as a subquery."""
    from ..cases.models import Case

    return select(Case.unit_id).where(scope.partner_cases_clause(user, Case.id))


def visible_units(user):
    """A WHERE clause on Unit: the units whose figures `user` reads. Bureau readers: their office's
    jurisdiction and below; a partner department: the units of the cases routed to it; a unit
    clerk: their unit; anyone else nothing."""
    if user.reads_all_units:
        return scope.units_clause(user, Unit.office_id)
    if user.has_role("partner"):
        return Unit.id.in_(partner_units(user))
    if user.has_role("unit_clerk") and user.unit_id is not None:
        return Unit.id == user.unit_id
    return false()


def can_view_unit(user, unit):
    """Whether `user` reads `unit`'s figures (visible_units, for one unit)."""
    if user.reads_all_units:  # their own office's unit without reading the office tree
        return (unit.office_id is not None and unit.office_id == user.home_office_id) \
            or scope.reads_office(user, unit.office_id)
    if user.has_role("partner"):
        from ..cases.models import Case

        routed = select(Case.id).where(Case.unit_id == unit.id, scope.partner_cases_clause(user, Case.id)).limit(1)
        return db.session.scalar(routed) is not None
    return user.has_role("unit_clerk") and user.unit_id == unit.id


def visible_unit(user, code, refusal="只能查看本单位的编制情况"):
    """The unit `code` if `user` reads it. A clerk asking for another unit is refused with
    `refusal` (403, as always); anyone else gets 404 for a unit outside what they read, the same
    answer as for a code that does not exist: another office's ledger stays unseen."""
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is not None and can_view_unit(user, unit):
        return unit
    if unit is not None and user.has_role("unit_clerk") and not user.reads_all_units:
        raise Forbidden(refusal)
    raise NotFound(OUT_OF_SCOPE.format(code=code))


def may_change_unit(user, unit):
    """Editors (业务科室, 系统管理员) change the units of their office and of the offices below it
    only; a rule called without a user (a command, the demo) or by a case's decision-maker of
    another role is gated elsewhere (access matrix, routing)."""
    if user is None or not user.reads_all_units:
        return True
    return scope.reads_office(user, unit.office_id)


def require_change_unit(user, *units):
    for unit in units:
        if unit is not None and not may_change_unit(user, unit):
            raise Forbidden(f"{unit.name}不属于本编办辖区，不能调整", code="out_of_jurisdiction")


def units_under(unit_id):
    """The unit and every unit below it in the tree (Unit.parent_id), one query per level."""
    ids, frontier = {unit_id}, {unit_id}
    while frontier:
        frontier = set(db.session.scalars(select(Unit.id).where(Unit.parent_id.in_(frontier)))) - ids
        ids |= frontier
    return ids


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


def post_figures(unit):
    """Per approved post line (领导职数 / 中层职数 by level): approved, filled, vacancy, warning
    (red when more people hold the post than approved)."""
    filled = dict(db.session.execute(
        select(Person.midlevel_post, func.count()).where(Person.unit_id == unit.id, Person.status == "on_roll",
                                                         Person.midlevel_post.is_not(None))
        .group_by(Person.midlevel_post)).all())
    result = []
    for quota in db.session.scalars(select(PostQuota).where(PostQuota.unit_id == unit.id)
                                    .order_by(PostQuota.kind.desc(), PostQuota.level)):
        n = filled.get(quota.level, 0) if quota.kind == "midlevel" else 0
        vacancy = quota.approved - n
        result.append({"kind": quota.kind, "kind_label": "中层职数" if quota.kind == "midlevel" else "领导职数",
                       "level": quota.level, "approved": quota.approved, "filled": n, "vacancy": vacancy,
                       "warning": "red" if n > quota.approved else ("yellow" if vacancy <= 0 else "green")})
    return result


def unit_warning(unit):
    """The unit's light: the worst of its establishment and post lines."""
    lights = {f["warning"] for f in figures(unit)} | {f["warning"] for f in post_figures(unit)}
    return next((w for w in ("red", "yellow", "green") if w in lights), "green")


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


def chronicle(user, case, unit, entity, entity_id, action, summary, before=None, after=None, delta=None):
    """Record one ledger change. `delta` is what it did to the unit's figures, e.g.
    {"category": "事业编制", "on_roll": 1}; the ledger of any past date is replayed from it."""
    entry = ChronicleEntry(user_id=user.id if user else None, case_id=case.id if case else None,
                           unit_id=unit.id if unit else None, entity=entity, entity_id=entity_id,
                           action=action, summary=summary, before=before, after=after, delta=delta)
    db.session.add(entry)
    return entry
