"""The ledger as a tool: the roster (人员花名册) as Excel and the standing queries (超编/满编,
超职数, 自然减员)."""
