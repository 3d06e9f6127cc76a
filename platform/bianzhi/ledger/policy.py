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
}


def setting(name):
    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return DEFAULTS[name]
