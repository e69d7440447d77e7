"""Lintel: the `lintel` command and the one-command demo that assembles edge, hub and simulators."""
