"""Lifts (梯控) at the hub: floors on access groups and visitor passes through the API, and the
compiler filling each credential's floors (the resident's unit floor) and each group's and
pass's floors into the snapshot an edge decides from."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.compiler.compile import compile_edge
from hub.compiler.load import load_registry
from hub.models import (
    AccessGroup,
    CardCredential,
    Edge,
    Resident,
    ResidentAccount,
    Unit,
    User,
    VisitorPass,
    resident_groups,
)
from tests.hub.api.conftest import RecordingPublisher, count, problem_fields
from tests.hub.api.test_signed_credentials import login, pass_body
from wire import SnapshotContent

Client = TestClient[Any, Any]


async def _resident_on_12f(sessions: async_sessionmaker[AsyncSession]) -> int:
    """alice lives in unit 101, which is on 12F; she holds card 5001 and an app login."""
    async with sessions() as session, session.begin():
        await session.execute(update(Unit).where(Unit.id == 101).values(floor=12))
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


async def test_groups_carry_floors_as_numbers_or_labels(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    resp = await client.post("/api/v1/access-groups", headers=auth, json={
        "site_id": "sunrise", "name": "garage and gym", "doors": ["B1-garage"],
        "floors": ["B1", 2, "2F"]})
    group = await resp.json()
    assert resp.status == 201, group
    assert (group["floors"], group["floor_labels"]) == ([-1, 2], ["B1", "2"])
    before = await count(sessions, AccessGroup)
    for bad in ([0], ["B0"], ["roof"], [500]):
        resp = await client.patch(f"/api/v1/access-groups/{group['id']}", headers=auth,
                                  json={"floors": bad})
        assert resp.status == 422, bad
        assert problem_fields(await resp.json())[0].startswith("floors"), bad
    assert await count(sessions, AccessGroup) == before
    resp = await client.patch(f"/api/v1/access-groups/{group['id']}", headers=auth,
                              json={"floors": ["B2", -1]})
    assert (await resp.json())["floors"] == [-2, -1]
    got = await (await client.get(f"/api/v1/access-groups/{group['id']}", headers=auth)).json()
    assert got["floor_labels"] == ["B2", "B1"]


async def test_compiler_fills_floors_from_unit_group_and_pass(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        publisher: RecordingPublisher) -> None:
    alice = await _resident_on_12f(sessions)
    residents = await client.post("/api/v1/access-groups", headers=auth, json={
        "site_id": "sunrise", "name": "residents", "doors": ["B1-main"]})
    garage = await client.post("/api/v1/access-groups", headers=auth, json={
        "site_id": "sunrise", "name": "garage", "doors": ["B1-garage"], "floors": ["B1"]})
    ids = [(await residents.json())["id"], (await garage.json())["id"]]
    async with sessions() as session, session.begin():
        await session.execute(insert(resident_groups),
                              [{"resident_id": alice, "group_id": g} for g in ids])
    # a pass names its host unit's floor by default
    issued = await client.post("/api/v1/visitor-passes", headers=auth,
                               json=pass_body(doors=["B1-garage"]))
    visit = await issued.json()
    assert issued.status == 201, visit
    assert visit["floors"] == [12]

    snap = await _snapshot(sessions)
    cards = {c.card: c for c in snap.credentials}
    assert cards["5001"].floors == [12] and cards[f"qr:{alice}"].floors == [12]
    assert sorted(cards["5001"].groups) == sorted(ids)
    groups = {g.id: g for g in snap.groups}
    assert groups[ids[0]].floors == [] and groups[ids[1]].floors == [-1]
    assert groups[-visit["id"]].floors == [12] and cards[f"pass:{visit['id']}"].groups == [-visit["id"]]

    # the unit's floor is corrected to 15F: the edges its residents reach are recompiled
    publisher.edge_calls.clear()
    resp = await client.patch("/api/v1/units/101", headers=auth, json={"floor": 15})
    assert resp.status == 200, await resp.text()
    assert publisher.edge_calls and publisher.edge_calls[-1][0] == "sunrise"
    snap = await _snapshot(sessions)
    assert {c.card: c for c in snap.credentials}["5001"].floors == [15]


async def test_pass_floors_a_resident_may_name_and_staff_may_choose(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    await _resident_on_12f(sessions)
    alice = await login(client, "alice")
    mine = await client.post("/api/v1/visitor-passes", headers=alice, json=pass_body(floors=["12"]))
    assert mine.status == 201 and (await mine.json())["floors"] == [12]
    before = await count(sessions, VisitorPass)
    other = await client.post("/api/v1/visitor-passes", headers=alice, json=pass_body(floors=[3]))
    body = await other.json()
    assert other.status == 422 and problem_fields(body) == ["floors"], body
    assert await count(sessions, VisitorPass) == before
    staff = await client.post("/api/v1/visitor-passes", headers=auth,
                              json=pass_body(floors=["B1", 12]))
    assert staff.status == 201 and (await staff.json())["floors"] == [-1, 12]
