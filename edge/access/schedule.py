"""Weekly schedules: is a site-local time inside one of a schedule's windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from wire import Schedule
from wire.permissions import minutes


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """A schedule compiled for lookup: per weekday (0 = Monday), its [start, end) minute ranges."""

    id: str
    by_day: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def from_wire(cls, schedule: Schedule) -> WeeklySchedule:
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for window in schedule.windows:
            span = (minutes(window.start), minutes(window.end))
            for day in window.days:
                days[day].append(span)
        return cls(id=schedule.id, by_day=tuple(tuple(sorted(d)) for d in days))

    def is_open(self, local: datetime) -> bool:
        """True when the wall-clock time `local` falls in a window (start inclusive, end exclusive).

        Windows are whole minutes, so the minute of the day decides: 17:59:59 is inside a window
        ending 18:00, 18:00:00 is not; a window ending 24:00 covers the day's last minute.
        """
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.by_day[local.weekday()])


def site_local(now: datetime, zone: ZoneInfo) -> datetime:
    """Convert an aware instant (UTC at the edge) to the site's wall-clock time."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC), not naive")
    return now.astimezone(zone)


def is_open(schedule: Schedule, now: datetime, zone: ZoneInfo | str) -> bool:
    """Is the aware instant `now` inside `schedule`, read in the site's time zone `zone`."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return WeeklySchedule.from_wire(schedule).is_open(site_local(now, tz))
