"""What diagram elements do to the platform: rules checked on user-task submissions,
ledger operations run by service tasks, states and notices set by events."""
from dataclasses import dataclass

from ..errors import Forbidden
from ..ledger import operations as ledger
from ..processes.registry import OPERATIONS, RULES, operation, rule
from ..util import utcnow
from .signals import milestone_reached


@dataclass
class Context:
    user: object
    case: object  # None while validating a new case's application


@rule("vacancy_available")
def vacancy_available(ctx, values):
    """空编使用 application: the clerk's own unit, a category it has, no more than the vacancy."""
    user = ctx.user
    if values.get("unit") != user.unit.code:
        raise Forbidden("只能为本单位申请", fields={"unit": [f"只能为本单位（{user.unit.name}，{user.unit.code}）申请"]})
    ledger.check_vacancy(user.unit, values["category"], values["count"])


@rule("registration_people")
def registration_people(ctx, values):
    ledger.check_people(ctx.case, values.get("people") or [])


@operation("reserve_places")
def reserve_places(ctx, data):
    reservation = ledger.reserve(ctx.user, ctx.case, ctx.case.unit, data["category"], int(data["count"]))
    return {"reservation_id": reservation.id}


@operation("register_people")
def register_people(ctx, data):
    people = ledger.register_people(ctx.user, ctx.case, data.get("people") or [])
    return {"registered": [p.code for p in people]}


def check_rule(name, ctx, values):
    if name:
        RULES[name](ctx, values)


def on_step(ctx):
    """The callback the engine adapter calls before each automatic element completes."""
    def handle(element, data):
        props = element.properties
        updates = None
        if element.kind == "serviceTask":
            updates = OPERATIONS[props["operation"]](ctx, data)
        if element.kind in ("intermediateThrowEvent", "endEvent"):
            state = props.get("state") or ("completed" if element.kind == "endEvent" else None)
            if state:
                set_state(ctx, state)
            if props.get("notice"):
                milestone_reached.send(ctx.case, user=ctx.user, element=element)
        return updates
    return handle


def set_state(ctx, state):
    case = ctx.case
    case.state = state
    if state in ("rejected", "completed", "withdrawn"):
        case.finished_at = utcnow()
        ledger.release(ctx.user, case)

