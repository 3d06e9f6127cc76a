"""What a reader's figures, lists and exports cover (statistics, monitoring, queries, rosters,
the annual review's progress, reminders): the units of their office's jurisdiction
(organisation.scope.office_ids: a county its own, a city its own and its counties'), or one
office of it that an upper office chose (?office=330602); a unit clerk their unit and the units
below it; the system (no user: the command line, the data-quality cron) everything; anyone else
nothing. Each is turned into SQL clauses, so every count and export filters in the database
(never a list of a province's 50,000 unit ids)."""
from dataclasses import dataclass

from sqlalchemy import false, select, true

from ..errors import Forbidden, NotFound
from ..extensions import db
from .models import Office
from .scope import office_ids

ALL = "全部"


@dataclass(frozen=True)
class Jurisdiction:
    offices: tuple | None = None  # office ids whose units are covered (bureau readers)
    units: frozenset | None = None  # unit ids covered (a clerk: their unit and the units below)
    everything: bool = False  # the system
    label: str = ""  # what the page is about, for its heading
    office: Office | None = None  # the office chosen or the reader's own (bureau readers)

    @property
    def by_office(self):
        return self.offices is not None

    def unit_clause(self, unit_table=None):
        """A WHERE clause on the units table (the Unit model, or an alias of it)."""
        from ..ledger.models import Unit

        table = unit_table if unit_table is not None else Unit
        if self.everything:
            return true()
        if self.offices is not None:
            return table.office_id.in_(self.offices) if self.offices else false()
        return table.id.in_(sorted(self.units)) if self.units else false()

    def clause(self, unit_id_column):
        """A WHERE clause on any column holding a unit id (Person.unit_id, ChronicleEntry.unit_id …)."""
        from ..ledger.models import Unit

        if self.everything:
            return true()
        if self.offices is not None:
            if not self.offices:
                return false()
            return unit_id_column.in_(select(Unit.id).where(Unit.office_id.in_(self.offices)).scalar_subquery())
        return unit_id_column.in_(sorted(self.units)) if self.units else false()

    def case_clause(self, case_model):
        """Cases of the jurisdiction: by the case's office (the unit's at the start) for bureau
        readers, by its unit for a clerk."""
        if self.everything:
            return true()
        if self.offices is not None:
            return case_model.office_id.in_(self.offices) if self.offices else false()
        return case_model.unit_id.in_(sorted(self.units)) if self.units else false()

    def covers(self, unit):
        if self.everything:
            return True
        if self.offices is not None:
            return unit.office_id in self.offices
        return bool(self.units) and unit.id in self.units

    def covers_office(self, office_id):
        return self.everything or (self.offices is not None and office_id in self.offices)


EVERYTHING = Jurisdiction(everything=True, label=ALL)
NOTHING = Jurisdiction(units=frozenset(), label="无")


def office_label(office, ids):
    return office.name if len(ids) <= 1 else f"{office.name}（含下级编办）"


def of(user, office_code=None):
    """The jurisdiction `user` reads; `office_code` narrows a bureau reader's to one office of it
    (with the offices below it). Forbidden for an office outside it; NotFound for no such office."""
    from ..ledger.operations import units_under

    if user is None:
        return EVERYTHING
    code = (office_code or "").strip()
    if user.reads_all_units:
        ids = office_ids(user)
        if not ids:
            return Jurisdiction(offices=(), label="无（账号未设所属编办）")
        office = db.session.get(Office, user.home_office_id)
        if code and code != office.code:
            chosen = db.session.scalar(select(Office).where(Office.code == code))
            if chosen is None:
                raise NotFound(f"编办「{code}」不存在")
            if chosen.id not in ids:
                raise Forbidden("只能查看本编办及下级编办辖区的数据")
            office, ids = chosen, chosen.subtree_ids()
        return Jurisdiction(offices=tuple(sorted(ids)), label=office_label(office, ids), office=office)
    if code:
        raise Forbidden("只有编办人员可以按编办查看；单位经办人只能查看本单位及下属单位")
    if user.has_role("unit_clerk") and user.unit_id:
        return Jurisdiction(units=frozenset(units_under(user.unit_id)), label=f"{user.unit.name}及下属单位")
    return NOTHING


def choices(user):
    """The offices a bureau reader may choose among ((code, label), their own first, then by
    行政区划代码), or [] when there is nothing to choose (a county, a clerk)."""
    if user is None or not user.reads_all_units or user.home_office_id is None:
        return []
    ids = office_ids(user)
    if len(ids) <= 1:
        return []
    offices = db.session.scalars(select(Office).where(Office.id.in_(ids)).order_by(Office.code)).all()
    own = next(o for o in offices if o.id == user.home_office_id)
    return [(own.code, f"{own.name}（全辖区）")] + [(o.code, o.name) for o in offices if o.id != own.id]
