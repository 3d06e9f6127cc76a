"""What part of the ledger a user reads: the jurisdiction of their office and of every office below
it (a county its own, a city its own and its counties' roll-up, the province everything); a clerk
their unit; a partner department's user the cases routed to their department and those cases'
units. Acting is narrower (organisation.routing): an upper office acts only on steps routed to it.

The functions return SQL clauses so every list, count and export filters in the database."""
from sqlalchemy import false, or_, select

from ..extensions import db
from .models import Office


def office_ids(user):
    """The offices whose jurisdiction `user` reads (theirs and every one below), [] for none. A
    bureau account without an office (made before offices existed, or by hand) reads nothing."""
    if not getattr(user, "is_authenticated", False) or not user.reads_all_units:
        return []
    home = user.home_office_id
    office = db.session.get(Office, home) if home is not None else None
    return office.subtree_ids() if office is not None else []


def reads_office(user, office_id):
    return office_id is not None and office_id in office_ids(user)


def units_clause(user, unit_office_column):
    """A WHERE clause limiting rows to the units of the user's jurisdiction, given the column
    holding the unit's office (Unit.office_id), for bureau readers; false() for anyone else."""
    ids = office_ids(user)
    return unit_office_column.in_(ids) if ids else false()


def routed_to_department(case_id, department_id):
    """Whether any step of the case is or was routed to the partner department."""
    from ..accounts.models import User
    from ..cases.models import CaseStep, OpenTask

    if department_id is None:
        return False
    open_step = select(OpenTask.id).where(OpenTask.case_id == case_id,
                                          OpenTask.partner_department_id == department_id).limit(1)
    if db.session.scalar(open_step) is not None:
        return True
    done = (select(CaseStep.id).join(User, User.id == CaseStep.user_id)
            .where(CaseStep.case_id == case_id, CaseStep.role == "partner",
                   User.partner_department_id == department_id).limit(1))
    return db.session.scalar(done) is not None


def partner_cases_clause(user, case_id_column):
    """The cases routed to the partner's department, as a WHERE clause on a case id column."""
    from ..accounts.models import User
    from ..cases.models import CaseStep, OpenTask

    dept = user.partner_department_id
    if dept is None:
        return false()
    open_steps = select(OpenTask.case_id).where(OpenTask.partner_department_id == dept)
    done = (select(CaseStep.case_id).join(User, User.id == CaseStep.user_id)
            .where(CaseStep.role == "partner", User.partner_department_id == dept))
    return or_(case_id_column.in_(open_steps), case_id_column.in_(done))


def cases_clause(user, case_model):
    """The cases `user` may see, as a WHERE clause on the Case model (lists, counts, exports)."""
    if user.reads_all_units:
        ids = office_ids(user)
        return case_model.office_id.in_(ids) if ids else false()
    if user.has_role("partner"):
        return partner_cases_clause(user, case_model.id)
    if user.has_role("unit_clerk") and user.unit_id:
        return case_model.unit_id == user.unit_id
    return false()

