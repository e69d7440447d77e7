"""Utility meters: the registry (which meter measures which unit), their readings as the edges
report them, and each unit's consumption per month for billing."""
