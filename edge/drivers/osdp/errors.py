"""The driver's one exception."""

from __future__ import annotations


class OsdpError(Exception):
    """An OSDP bus or reader could not do what was asked (the message says which and why)."""
