"""Alembic migrations of the hub schema (a package so that env.py ships with the wheel)."""
