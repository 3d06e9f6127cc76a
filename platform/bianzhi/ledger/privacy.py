"""Who sees a person's ID number in full. Lists, queries and exports show it masked
(330621********1234) unless the reader's role needs it for the work: the unit's own clerk (who
files the person's cases) and the bureau's 业务科室 and administrators. Leaders, supervisors and
service accounts read figures and structure, so they see it masked."""

FULL_ID_ROLES = ("reviewer", "admin")


def may_see_id_numbers(user, unit_id=None):
    """True when `user` may see full ID numbers of people of the unit `unit_id` (None: any unit)."""
    if user.has_role(*FULL_ID_ROLES):
        return True
    return unit_id is not None and user.has_role("unit_clerk") and user.unit_id == unit_id


def mask_id_number(value):
    """Keep the six-digit region code and the last four characters: 330621********123X."""
    if not value:
        return value
    value = str(value)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def shown_id_number(user, value, unit_id=None):
    return value if may_see_id_numbers(user, unit_id) else mask_id_number(value)
