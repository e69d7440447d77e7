"""The Lintel edge agent: one per building."""

__version__ = "0.1.0"
