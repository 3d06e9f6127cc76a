"""What diagram elements do to the platform: the rules and ledger operations they name (kept
by the ledger's topic modules), states and notices set by events."""
from dataclasses import dataclass

from .. import clock
from ..ledger import vacancy
from ..processes.registry import OPERATIONS, RULES
from .signals import milestone_reached


@dataclass
class Context:
    user: object
    case: object  # None while validating a new case's application


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
        case.finished_at = clock.now()
        vacancy.release(ctx.user, case)

