"""The guard console's one request (`GET /guard-panel`): each part is what its own list
endpoint answers the same caller, kept to the caller's site."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.api.world import Client, add_alarm, build_world

PARTS = {
    "alarms": "/alarms?open=true&limit=100",
    "access_events": "/access-events?limit=50",
    "buildings": "/buildings",
    "edges": "/edges",
    "door_states": "/door-states",
    "devices": "/devices",
    "commands": "/commands?limit=8",
    "camera_alerts": "/camera-alerts?limit=100",
}


def _ids(part: dict[str, Any]) -> list[Any]:
    return [item.get("id", item.get("name")) for item in part["items"]]


async def test_the_panel_is_the_guards_lists_in_one_answer(
        client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    w = await build_world(client, sessions)
    await add_alarm(sessions, "sunrise", "panel-home")
    away_alarm = await add_alarm(sessions, "moonbay", "panel-away")
    _, panel = await w.call("GET", "/guard-panel", "guard", 200,
                            headers={"Accept-Language": "zh-CN"})
    assert set(panel) == set(PARTS)
    for name, path in PARTS.items():
        _, alone = await w.call("GET", path, "guard", 200, headers={"Accept-Language": "zh-CN"})
        assert _ids(panel[name]) == _ids(alone), name
        assert panel[name] == alone, name
    assert panel["alarms"]["items"], "the home site's open alarm is on the panel"
    assert away_alarm not in _ids(panel["alarms"])  # another site's
    assert {b["site_id"] for b in panel["buildings"]["items"]} == {"sunrise"}
    assert {e["site_id"] for e in panel["edges"]["items"]} == {"sunrise"}
    # a technician has no remote door control: none of the panel either
    await w.call("GET", "/guard-panel", "technician", 403)
