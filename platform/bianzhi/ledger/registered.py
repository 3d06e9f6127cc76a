"""Importing this registers every ledger rule and operation a diagram may name."""
from . import adjustments, exits, plans, posts, temp, vacancy  # noqa: F401
