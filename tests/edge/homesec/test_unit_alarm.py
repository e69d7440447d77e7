"""A unit's alarm decided at the edge, on a moved clock: arming, delays, 24-hour zones."""

from __future__ import annotations

import pytest

from edge.homesec import ArmRefused, UnitAlarm
from edge.sensors.loader import load_models
from wire.homesec import HomeSecurityData, PanelSettings

ZONES = load_models()["alarm-panel-8z"].security_zones
assert ZONES is not None
FRONT_DOOR, BALCONY, WINDOW, PIR, SMOKE, GAS, LEAK, PANIC = range(1, 9)


class Unit:
    def __init__(self, exit_s: float = 10, entry_s: float = 15) -> None:
        self.now = 0.0
        self.sent: list[HomeSecurityData] = []
        self.open: set[int] = set()
        self.alarm = UnitAlarm(ZONES.zones, PanelSettings(unit="1-101", floor=1,
                                                          exit_delay_s=exit_s,
                                                          entry_delay_s=entry_s),
                               self.sent.append, lambda: self.now)
        self.poll()

    def poll(self) -> None:
        self.alarm.zones_polled({z: "active" if z in self.open else "normal" for z in range(1, 9)})

    def zone(self, zone: int, active: bool) -> None:
        (self.open.add if active else self.open.discard)(zone)
        self.poll()

    def wait(self, seconds: float) -> None:
        self.now += seconds
        self.alarm.tick()

    def events(self) -> list[tuple[str, str | None, int | None]]:
        return [(e.event, e.alarm, e.zone) for e in self.sent]


def test_armed_away_the_front_door_starts_the_entry_delay_and_no_disarm_is_an_intrusion() -> None:
    unit = Unit()
    assert unit.alarm.arm("away", "resident") == "arming away: exit delay 10 s"
    unit.zone(FRONT_DOOR, True)  # leaving through it during the exit delay: nothing
    unit.zone(FRONT_DOOR, False)
    unit.wait(10)
    assert unit.events() == [("exit_delay", None, None), ("armed", None, None)]
    unit.zone(FRONT_DOOR, True)
    unit.zone(PIR, True)  # walking to the keypad: follows the entry
    unit.wait(14.9)
    assert unit.events()[-1] == ("entry_delay", None, FRONT_DOOR)
    unit.wait(0.1)
    last = unit.sent[-1]
    assert (last.event, last.alarm, last.zone, last.unit, last.floor) == (
        "alarm", "intrusion", FRONT_DOOR, "1-101", 1)
    assert last.zone_zh == "入户门" and not last.silent


def test_a_disarm_within_the_entry_delay_raises_nothing() -> None:
    unit = Unit(exit_s=0)
    unit.alarm.arm("away", "resident")
    unit.zone(FRONT_DOOR, True)
    unit.wait(5)
    assert unit.alarm.arm("disarmed", "resident") == "disarmed"
    unit.wait(60)
    assert [e for e, _, _ in unit.events()] == ["armed", "entry_delay", "disarmed"]


def test_arming_with_a_window_open_is_refused_naming_it_or_bypasses_it_by_choice() -> None:
    unit = Unit()
    unit.zone(WINDOW, True)
    with pytest.raises(ArmRefused, match=r"zone 3 \(Bedroom window\) is open"):
        unit.alarm.arm("away", "resident")
    assert unit.alarm.phase == "disarmed"
    refused = unit.sent[-1]
    assert (refused.event, refused.open_zones, refused.mode) == ("arm_refused", [WINDOW], "disarmed")
    assert unit.alarm.arm("away", "resident", bypass=[WINDOW]).startswith("arming away")
    unit.wait(10)
    unit.zone(WINDOW, False)
    unit.zone(WINDOW, True)  # bypassed: nothing
    assert unit.events()[-1] == ("armed", None, None)
    assert unit.sent[-1].bypassed == [WINDOW]


def test_stay_arms_doors_and_windows_but_not_the_motion_inside() -> None:
    unit = Unit(exit_s=0)
    unit.zone(PIR, True)  # someone is home: stay arms anyway
    unit.alarm.arm("stay", "resident")
    unit.zone(PIR, False)
    unit.zone(PIR, True)
    assert unit.events() == [("armed", None, None)]
    unit.zone(BALCONY, True)  # an instant zone
    assert unit.events()[-1] == ("alarm", "intrusion", BALCONY)


def test_24_hour_zones_alarm_while_disarmed_and_panic_is_silent() -> None:
    unit = Unit()
    unit.zone(SMOKE, True)
    unit.zone(PANIC, True)
    unit.zone(SMOKE, False)
    assert unit.events() == [("alarm", "fire", SMOKE), ("alarm", "panic", PANIC),
                             ("alarm_restored", "fire", SMOKE)]
    assert unit.sent[1].silent and not unit.sent[0].silent


def test_a_24_hour_zone_cannot_be_bypassed_nor_an_unknown_one() -> None:
    unit = Unit()
    with pytest.raises(ArmRefused, match="24-hour"):
        unit.alarm.arm("away", "resident", bypass=[GAS])
    with pytest.raises(ArmRefused, match="no zone 12"):
        unit.alarm.arm("away", "resident", bypass=[12])
    assert unit.sent == []


def test_a_panel_not_answering_cannot_be_armed() -> None:
    unit = Unit()
    unit.alarm.panel_lost()
    with pytest.raises(ArmRefused, match="not answering"):
        unit.alarm.arm("stay", "resident")


def test_a_window_left_open_when_the_exit_delay_ends_is_an_intrusion() -> None:
    unit = Unit(exit_s=5)
    unit.alarm.arm("away", "resident")
    unit.zone(WINDOW, True)  # an instant zone during the exit delay
    assert unit.events()[-1] == ("alarm", "intrusion", WINDOW)
