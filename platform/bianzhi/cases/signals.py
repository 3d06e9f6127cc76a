"""Signals other features listen to, so the workflow code does not import them.

The listeners are connected in one place, bianzhi.registry (register_domain).
"""
from blinker import Namespace

_signals = Namespace()

# sender: the Case; kwargs: user, element (adapter.Element) whose properties name a notice
milestone_reached = _signals.signal("milestone-reached")

# sender: the Case, after its open-task rows were made to match the engine (cases.sync);
# kwargs, plain data only (no listener drives the engine):
#   user      who acted (the system user for timers)
#   opened    (cases.sync.OpenedTask, …) the steps just opened: id, bpmn_id, name, lane, role,
#             unit_id, form_key, due_date, created_at, properties (the diagram step's)
#   closed    (task id, …) the rows removed
#   open_ids  (task id, …) every step open now
#   timers    (cases.sync.Timer, …) the timer events the case waits on: id, element_id, name,
#             properties, duration, at
# Deadlines, the step log and notifications listen.
tasks_synced = _signals.signal("tasks-synced")
