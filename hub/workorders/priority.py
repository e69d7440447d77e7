"""A fault order's priority from the fault's severity and what the device is: a lift's
safety circuit is urgent, a camera turned away is not."""

from __future__ import annotations

from typing import Final

# devices people's safety hangs on: a fault of theirs is dealt with a step sooner
LIFE_SAFETY: Final = frozenset({"elevator", "fire_panel", "pressure_sensor"})
_LIFE_SAFETY: Final = {"critical": "urgent", "major": "high", "minor": "normal", "info": "low"}
_OTHER: Final = {"critical": "high", "major": "normal", "minor": "low", "info": "low"}


def fault_priority(severity: object, device_type: object, fallback: str) -> str:
    """urgent / high / normal / low; `fallback` when the severity is not one we know."""
    table = _LIFE_SAFETY if device_type in LIFE_SAFETY else _OTHER
    return table.get(severity, fallback) if isinstance(severity, str) else fallback


__all__ = ["LIFE_SAFETY", "fault_priority"]
