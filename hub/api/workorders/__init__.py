"""Work orders and the maintenance registry (equipment ledger, technicians, report)."""
