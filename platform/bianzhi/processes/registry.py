"""Names a diagram may use: ledger operations for service tasks, rules for user tasks; and
per-process case titles.

The callables are registered by the features that own them (the ledger's topic modules,
review.operations), with the decorators below; bianzhi.registry.register_domain imports every
one of them, so the validator knows the names whichever blueprints exist.
"""
OPERATIONS = {}
RULES = {}
TITLES = {}  # process key -> fn(application values) -> a case title saying what it is about


def operation(name):
    def register(fn):
        OPERATIONS[name] = fn
        return fn
    return register


def rule(name):
    def register(fn):
        RULES[name] = fn
        return fn
    return register


def title(key):
    def register(fn):
        TITLES[key] = fn
        return fn
    return register
