"""Names a diagram may use: ledger operations for service tasks, rules for user tasks.

The callables are registered by the features that own them (cases.effects), so that the
validator knows the names without importing the ledger.
"""
OPERATIONS = {}
RULES = {}


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
