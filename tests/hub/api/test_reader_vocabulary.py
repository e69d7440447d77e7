"""The reader's vocabulary at the hub: residents' PINs set by a manager or by the resident,
stored only hashed and compiled (with the duress PIN) into the snapshots of the edges that
have a card + PIN door; the site's card format; install mode and key rotation commands."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.access.pin import verify_pin
from hub.compiler.compile import compile_edge
from hub.compiler.load import load_registry
from hub.models import CardCredential, Door, Edge, EdgeCommandRow, Resident, ResidentAccount, User
from hub.readers.models import ResidentPinRow
from tests.hub.api.conftest import count, problem_fields
from tests.hub.api.test_signed_credentials import login
from wire import SnapshotContent

Client = TestClient[Any, Any]


async def _alice(sessions: async_sessionmaker[AsyncSession]) -> int:
    """alice holds card 5001 and an app login, and is in a group opening B1-main."""
    async with sessions() as session, session.begin():
        alice = Resident(site_id="sunrise", unit_id=101, name="张丽")
        session.add(alice)
        await session.flush()
        session.add(CardCredential(site_id="sunrise", resident_id=alice.id, card_number="5001"))
        user = await session.scalar(select(User).where(User.username == "alice"))
        assert user is not None
        session.add(ResidentAccount(user_id=user.id, resident_id=alice.id))
        return alice.id


async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> SnapshotContent:
    async with sessions() as session:
        edge = await session.scalar(select(Edge).where(Edge.name == "edge-b1"))
        assert edge is not None
        registry = await load_registry(session, "sunrise")
    return compile_edge("sunrise", edge.id, edge.name, registry)


async def _door_id(sessions: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessions() as session:
        door_id = await session.scalar(select(Door.id).where(Door.name == name))
    assert door_id is not None
    return door_id


async def test_pins_are_hashed_and_reach_only_edges_with_a_card_and_pin_door(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await _alice(sessions)
    resp = await client.post("/api/v1/access-groups", headers=auth, json={
        "site_id": "sunrise", "name": "residents", "doors": ["B1-main"]})
    assert resp.status == 201, await resp.text()
    group = (await resp.json())["id"]
    resp = await client.patch(f"/api/v1/residents/{alice}", headers=auth, json={"groups": [group]})
    assert resp.status == 200, await resp.text()
    resp = await client.post(f"/api/v1/residents/{alice}/pin", headers=auth,
                             json={"pin": "2580", "duress_pin": "2581"})
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"resident_id": alice, "pin_set": True, "duress_pin_set": True}
    async with sessions() as session:
        row = await session.get(ResidentPinRow, alice)
        assert row is not None and "2580" not in row.pin_hash and row.updated_by == "admin"

    snap = await _snapshot(sessions)
    assert snap.pins == []  # no card + PIN door on this edge: no PIN hash leaves the hub
    main = await _door_id(sessions, "B1-main")
    resp = await client.patch(f"/api/v1/doors/{main}", headers=auth, json={"pin_required": True})
    assert resp.status == 200 and (await resp.json())["pin_required"] is True
    snap = await _snapshot(sessions)
    assert [d.pin_required for d in snap.doors if d.id == "B1-main"] == [True]
    (pins,) = snap.pins
    assert pins.resident_id == alice
    assert [verify_pin(pins, p) for p in ("2580", "2581", "0000")] == ["ok", "duress", "wrong"]

    # the resident changes her own PIN; the old one stops working at the next snapshot
    mine = await login(client, "alice")
    resp = await client.post("/api/v1/me/pin", headers=mine, json={"pin": "147258"})
    assert resp.status == 200 and (await resp.json())["duress_pin_set"] is False
    (pins,) = (await _snapshot(sessions)).pins
    assert (verify_pin(pins, "147258"), verify_pin(pins, "2580")) == ("ok", "wrong")

    resp = await client.delete(f"/api/v1/residents/{alice}/pin", headers=auth)
    assert resp.status == 204
    assert (await _snapshot(sessions)).pins == []


async def test_a_pin_that_cannot_be_stored_is_refused_naming_the_field(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    alice = await _alice(sessions)
    before = await count(sessions)
    for body, field in [({"pin": "12a4"}, "pin"), ({"pin": "123"}, "pin"),
                        ({"pin": "2580", "duress_pin": "2580"}, "duress_pin"),
                        ({"pin": "2580", "duress_pin": "99"}, "duress_pin"),
                        ({"pin": "7777"}, "pin")]:
        resp = await client.post(f"/api/v1/residents/{alice}/pin", headers=auth, json=body)
        assert resp.status == 422, body
        assert problem_fields(await resp.json()) == [field], body
    assert await count(sessions) == before


async def test_the_site_card_format_reaches_the_snapshot(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    assert (await _snapshot(sessions)).card_format.check_facility is False
    resp = await client.post("/api/v1/card-formats", headers=auth, json={
        "site_id": "sunrise", "wiegand": [26], "check_facility": True, "facility_codes": [12, 7]})
    assert resp.status == 200, await resp.text()
    rule = (await _snapshot(sessions)).card_format
    assert (rule.wiegand, rule.check_facility, rule.facility_codes) == ([26], True, [7, 12])
    resp = await client.post("/api/v1/card-formats", headers=auth,
                             json={"site_id": "sunrise", "facility_codes": []})
    assert resp.status == 422 and problem_fields(await resp.json()) == ["facility_codes"]
    listed = await (await client.get("/api/v1/card-formats", headers=auth)).json()
    assert {f["site_id"]: f["facility_codes"] for f in listed["items"]} == {
        "moonbay": [], "sunrise": [7, 12]}


async def test_install_and_rotation_are_signed_commands_for_the_door(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    main = await _door_id(sessions, "B1-main")
    resp = await client.post(f"/api/v1/doors/{main}/install", headers=auth, json={"minutes": 10})
    assert resp.status == 202, await resp.text()
    install = await resp.json()
    resp = await client.post(f"/api/v1/doors/{main}/rotate-key", headers=auth,
                             json={"reason": "yearly"})
    assert resp.status == 202
    async with sessions() as session:
        rows = list(await session.scalars(select(EdgeCommandRow).order_by(EdgeCommandRow.issued_at)))
    assert [(r.command, r.door, r.edge) for r in rows] == [
        ("reader_install", "B1-main", "edge-b1"), ("rotate_key", "B1-main", "edge-b1")]
    assert install["command"] == "reader_install"
    resp = await client.post(f"/api/v1/doors/{main}/install", headers=auth, json={"minutes": 61})
    assert resp.status == 422 and problem_fields(await resp.json()) == ["minutes"]
