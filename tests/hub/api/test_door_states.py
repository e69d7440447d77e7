"""The building panel's door states: folded from the door events, shown offline when the
edge is, the most urgent condition first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.door_states import DoorState, record_door_events, state_key

Client = TestClient[Any, Any]
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def door_event(seq: int, event: str, cause: str | None = None, door: str = "B1-main",
               edge: str = "edge-b1", site: str = "sunrise") -> dict[str, Any]:
    return {"kind": "door", "site_id": site, "edge": edge, "seq": seq, "ts": T0,
            "data": {"door": door, "event": event, "cause": cause}}


async def states(client: Client, auth: dict[str, str], **params: Any) -> dict[str, str]:
    resp = await client.get("/api/v1/door-states", headers=auth, params=params)
    assert resp.status == 200, await resp.text()
    return {d["name"]: d["state"] for d in (await resp.json())["items"]}


async def test_door_events_fold_into_the_shown_state(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await states(client, auth) == {
        "B1-garage": "normal", "B1-main": "normal", "M1-main": "offline"}

    async def fold(*rows: dict[str, Any]) -> dict[str, str]:
        async with sessions() as session, session.begin():
            await record_door_events(session, list(rows))
        return await states(client, auth, site_id="sunrise")

    assert (await fold(door_event(1, "opened")))["B1-main"] == "open"
    assert (await fold(door_event(2, "held_open")))["B1-main"] == "held_open"
    assert (await fold(door_event(3, "closed")))["B1-main"] == "normal"
    got = await fold(door_event(4, "opened"), door_event(5, "forced_open"),
                     door_event(6, "lockdown"), door_event(1, "lockdown", door="B1-garage"))
    assert got == {"B1-main": "forced", "B1-garage": "locked_down"}
    assert (await fold(door_event(7, "closed")))["B1-main"] == "locked_down"
    # a late event from before the newest one changes nothing
    assert (await fold(door_event(3, "opened")))["B1-main"] == "locked_down"
    assert (await fold(door_event(8, "released")))["B1-main"] == "normal"
    got = await fold(door_event(9, "released", "fire"), door_event(10, "opened"),
                     door_event(2, "released", "fire", door="B1-garage"))
    assert got == {"B1-main": "fire_released", "B1-garage": "fire_released"}
    got = await fold(door_event(11, "closed"), door_event(12, "locked", "fire"),
                     door_event(3, "released", door="B1-garage"))
    assert got == {"B1-main": "normal", "B1-garage": "fire_released"}  # still the fire
    async with sessions() as session:
        row = await session.get(DoorState, state_key("sunrise", "edge-b1", "B1-main"))
        assert row is not None and row.last_seq == 12 and row.changed_at == T0
