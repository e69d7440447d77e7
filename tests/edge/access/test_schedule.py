from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.access.schedule import WeeklySchedule, is_open, site_local
from wire import Schedule, TimeWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2025-03-03 is a Monday.
MONDAY = datetime(2025, 3, 3, tzinfo=SHANGHAI)

OFFICE = Schedule(
    id="office", windows=[TimeWindow(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")]
)
LATE = Schedule(id="late", windows=[TimeWindow(days=[0], start="22:00", end="24:00")])
EARLY = Schedule(id="early", windows=[TimeWindow(days=[0], start="00:00", end="01:00")])


def at(day: datetime, hhmmss: str) -> datetime:
    h, m, s = (float(p) for p in hhmmss.split(":"))
    return day + timedelta(hours=h, minutes=m, seconds=s)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("07:59:59.999", False),
        ("08:00:00", True),  # start inclusive
        ("12:00:00", True),
        ("17:59:59.999", True),
        ("18:00:00", False),  # end exclusive
    ],
)
def test_window_start_inclusive_end_exclusive(local: str, expected: bool) -> None:
    assert WeeklySchedule.from_wire(OFFICE).is_open(at(MONDAY, local)) is expected


def test_end_24_00_covers_the_last_minute_and_not_the_next_day() -> None:
    late = WeeklySchedule.from_wire(LATE)
    assert not late.is_open(at(MONDAY, "21:59:59"))
    assert late.is_open(at(MONDAY, "22:00:00"))
    assert late.is_open(at(MONDAY, "23:59:59.999"))
    assert not late.is_open(at(MONDAY, "24:00:00"))  # Tuesday 00:00


def test_other_weekdays() -> None:
    office = WeeklySchedule.from_wire(OFFICE)
    assert office.is_open(at(MONDAY + timedelta(days=4), "10:00:00"))  # Friday
    assert not office.is_open(at(MONDAY + timedelta(days=5), "10:00:00"))  # Saturday
    assert not office.is_open(at(MONDAY + timedelta(days=6), "10:00:00"))  # Sunday


def test_several_windows_on_one_day() -> None:
    split = Schedule(
        id="split",
        windows=[
            TimeWindow(days=[2], start="06:00", end="09:00"),
            TimeWindow(days=[2, 3], start="17:00", end="20:00"),
        ],
    )
    wednesday = MONDAY + timedelta(days=2)
    compiled = WeeklySchedule.from_wire(split)
    assert compiled.is_open(at(wednesday, "07:00:00"))
    assert not compiled.is_open(at(wednesday, "12:00:00"))
    assert compiled.is_open(at(wednesday, "19:59:00"))
    assert not compiled.is_open(at(wednesday + timedelta(days=1), "07:00:00"))


def test_time_zone_decides_the_weekday_around_midnight() -> None:
    # Sunday 16:30 UTC is Monday 00:30 in Shanghai.
    sunday_utc = datetime(2025, 3, 2, 16, 30, tzinfo=UTC)
    assert is_open(EARLY, sunday_utc, "Asia/Shanghai")
    assert not is_open(EARLY, sunday_utc, "UTC")
    # Monday 00:30 UTC is Monday 08:30 in Shanghai.
    monday_utc = datetime(2025, 3, 3, 0, 30, tzinfo=UTC)
    assert not is_open(EARLY, monday_utc, SHANGHAI)
    assert is_open(EARLY, monday_utc, "UTC")


def test_late_window_in_shanghai_is_afternoon_utc() -> None:
    # Monday 15:30 UTC is Monday 23:30 in Shanghai, inside 22:00-24:00.
    assert is_open(LATE, datetime(2025, 3, 3, 15, 30, tzinfo=UTC), SHANGHAI)
    # Monday 16:00 UTC is Tuesday 00:00 in Shanghai: the window has ended.
    assert not is_open(LATE, datetime(2025, 3, 3, 16, 0, tzinfo=UTC), SHANGHAI)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        site_local(datetime(2025, 3, 3, 10, 0), SHANGHAI)  # noqa: DTZ001
