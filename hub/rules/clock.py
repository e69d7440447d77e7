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





class ShiftedClock:
    """The real time plus an offset the test moves forward (events keep their real times)."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return utcnow() + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()
__all__ = ["Clock", "ManualClock", "ShiftedClock", "SystemClock"]
