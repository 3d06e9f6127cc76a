"""Statistics with charts, the ledger on any date, and approval monitoring (审批监测)."""
