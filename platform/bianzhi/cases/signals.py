"""Signals other features listen to, so the workflow code does not import them."""
from blinker import Namespace

_signals = Namespace()

# sender: the Case; kwargs: user, element (adapter.Element) whose properties name a notice
milestone_reached = _signals.signal("milestone-reached")
