"""Alarms, notices and the managers' reports."""
