"""Everything the domain registers, in one place: the rules, ledger operations and case titles a
diagram may name, the listeners of the workflow's signals, the worker's job handlers.

`register_domain()` is called by create_app, and works without the web app (no blueprint, no
view module): the validator, the CLI and a worker see the same names whatever else was
imported. Nothing else registers by being imported somewhere.
"""
_registered = False

# modules whose @rule / @operation / @title decorators fill processes.registry
RULE_MODULES = (
    "bianzhi.ledger.adjustments",  # 编制调整
    "bianzhi.ledger.exits",  # 出编
    "bianzhi.ledger.plans",  # 年度用编计划, 用编计划增加
    "bianzhi.ledger.posts",  # 中层核职
    "bianzhi.ledger.temp",  # 临聘人员
    "bianzhi.ledger.vacancy",  # 空编使用 → 落编
    "bianzhi.review.operations",  # 机构编制年审: annual_review_check
)


def register_domain():
    """Register every rule, operation, title, signal listener and job handler (idempotent)."""
    global _registered
    if _registered:
        return
    from importlib import import_module

    for name in RULE_MODULES:
        import_module(name)

    from .cases.signals import milestone_reached, tasks_synced
    from .inbox import deadlines
    from .notices import operations as notices
    from .statistics import monitoring

    tasks_synced.connect(deadlines.on_tasks_synced)  # reminders, escalations, timers; the unit told
    tasks_synced.connect(monitoring.log_steps)  # the step log 审批监测 reads
    milestone_reached.connect(notices.on_milestone)  # a notice issued at a decision

    from . import jobs  # noqa: F401  the worker's handlers by job kind: jobs.HANDLERS, jobs.GIVEN_UP
    _registered = True
