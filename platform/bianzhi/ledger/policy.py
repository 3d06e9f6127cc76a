"""The bureau's configurable rules, in one place (from the local regulations in DESIGN.md).

An office whose regulations differ changes a number here, or overrides it in
instance/config.py under the same name (read through `setting()`).
"""
from flask import current_app, has_app_context

DEFAULTS = {
    # vacancy use by these channels must fit inside the unit's approved plan for the year;
    # transfers (调任, 选调) and placements need only the vacancy
    "RECRUITMENT_CHANNELS": ("公开招聘", "考录"),
    # 落编: within 30 working days of the hire; 出编: within 15 working days of leaving
    "REGISTRATION_DEADLINE_WORKDAYS": 30,
    "EXIT_DEADLINE_WORKDAYS": 15,
    # an exit may be filed ahead of the date (e.g. a known retirement) by at most this many days
    "EXIT_FUTURE_LIMIT_DAYS": 30,
    # a unit that filed an exit late within this many days gets plan applications refused
    "LATE_EXIT_LOOKBACK_DAYS": 365,
    "MIN_AGE_AT_ENTRY": 18,
    "EXIT_REASONS": ("退休", "调出", "辞职", "辞退", "解除聘用合同", "死亡", "其他"),
    "MIDLEVEL_LEVELS": ("正职", "副职"),
    "TEMP_MAX_MONTHS": 36,
    # deadlines (a step's limit is its diagram property deadline_days, in working days): the
    # reminder goes out this many working days before the due date, escalation this many
    # working days after it, both at this hour (Beijing time); a step may override the two
    # counts with the diagram properties remind_workdays_before / escalate_after_workdays
    "REMIND_WORKDAYS_BEFORE": 1,
    "ESCALATE_AFTER_WORKDAYS": 1,
    "DEADLINE_NOTIFY_HOUR": 9,
    # who is told when a step of this role escalates
    "ESCALATE_TO": {"reviewer": ("leader",), "leader": ("leader",), "unit_clerk": ("reviewer",)},
    # shown in amber in the inbox when due within this many working days
    "DUE_SOON_WORKDAYS": 2,
    # 催办: one urge per step and person in this many hours
    "URGE_INTERVAL_HOURS": 24,
    # 委托: the longest delegation, in calendar days
    "DELEGATION_MAX_DAYS": 180,
    # 业务提醒: unused plan places are shown from this many days before 31 December;
    # retirements ahead within this many months by default
    "PLAN_UNUSED_REMIND_DAYS": 92,
    "RETIREMENT_AHEAD_MONTHS": 6,
}


def setting(name):
    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return DEFAULTS[name]
