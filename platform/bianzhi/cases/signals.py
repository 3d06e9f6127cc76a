"""Signals other features listen to, so the workflow code does not import them."""
from blinker import Namespace

_signals = Namespace()

# sender: the Case; kwargs: user, element (adapter.Element) whose properties name a notice
milestone_reached = _signals.signal("milestone-reached")

# sender: the Case, after its open-task rows were made to match the engine; kwargs: user (who
# acted, the system user for timers), run (the engine Run), opened (new OpenTask rows), closed
# (ids of the rows removed). Deadlines and notifications listen.
tasks_synced = _signals.signal("tasks-synced")
