"""Person records and the reconciliation, as pages."""
