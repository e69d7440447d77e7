"""The rules' clock: the system's in the hub, one the test moves by hand in tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from hub.models import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class ManualClock:
    """Starts at the real time (or `start`) and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utcnow()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


__all__ = ["Clock", "ManualClock", "SystemClock"]
