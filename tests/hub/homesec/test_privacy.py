"""Who hears a unit's home security on the live feed: its own household and the control room
of its site; never a neighbour in the same building, a technician or another site."""

from __future__ import annotations

from hub.live import Listener, LiveItem

CHANNELS = frozenset({"homesec"})
ITEM = LiveItem("homesec", {"event": "alarm", "alarm": "intrusion", "unit": "101"},
                site_id="sunrise", building_id=1, household_id=7)


def hears(**who: object) -> bool:
    return Listener(channels=CHANNELS, **who).admits(ITEM)  # type: ignore[arg-type]


def test_the_units_own_household_and_the_control_room_hear_it() -> None:
    assert hears(role="resident", user_id=1, site_id="sunrise", household_id=7, building_id=1)
    assert hears(role="guard", user_id=2, site_id="sunrise")
    assert hears(role="manager", user_id=3, site_id="sunrise")


def test_a_neighbour_a_technician_and_another_site_do_not() -> None:
    assert not hears(role="resident", user_id=4, site_id="sunrise", household_id=8, building_id=1)
    assert not hears(role="technician", user_id=5, site_id="sunrise")
    assert not hears(role="guard", user_id=6, site_id="moonbay")
