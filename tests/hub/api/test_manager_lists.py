"""What the manager's console needs of the API (issue 16): residents and cards searched,
filtered and paged with a total; a card replaced in one step; a notice whose validity is
already past refused; a revoked pass without a QR code; a work order's place and contact,
and its photos kept from the guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import CardCredential, ResidentAccount, User
from hub.rules.models import Notice
from tests.hub.api.conftest import count, problem_fields
from tests.hub.api.world import build_world, pass_body

Client = TestClient[Any, Any]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]  # SQLite and PostgreSQL
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_residents_searched_filtered_and_paged(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    group = w.ids["access-groups"]["home"]
    made = []
    for i in range(7):
        _, r = await w.call("POST", "/residents", json={
            "site_id": "sunrise", "name": f"王{i}号_100%", "phone": f"1390000000{i}",
            "unit_id": w.unit["neighbour"], "type": "tenant" if i % 2 else "owner",
            "groups": [group] if i < 3 else []}, status=201)
        made.append(r["id"])
    await w.call("POST", "/cards", json={"resident_id": made[4], "card_number": "77123"},
                 status=201)

    async def ids(query: str, role: str = "manager") -> tuple[list[int], int]:
        _, page = await w.call("GET", f"/residents?{query}", role, 200)
        return [r["id"] for r in page["items"]], page["total"]

    assert await ids("q=王&limit=3") == (made[:3], 7)
    assert await ids("q=王&limit=3&offset=3") == (made[3:6], 7)
    assert await ids("q=王&limit=3&offset=6") == (made[6:], 7)
    assert await ids("q=王&limit=3&offset=9") == ([], 7)
    assert await ids("q=13900000005") == ([made[5]], 1)  # by phone
    assert await ids("q=7712") == ([made[4]], 1)  # by card number
    assert await ids("q=100%25") == (made, 7)  # a % in the search is a character, not a wildcard
    assert (await ids("q=王%25"))[1] == 0  # as a wildcard it would match all seven
    assert await ids("q=王&type=tenant") == ([made[1], made[3], made[5]], 3)
    assert await ids(f"q=王&group_id={group}") == (made[:3], 3)
    assert (await ids(f"building_id={w.building['home']}&limit=100"))[1] >= 8
    assert await ids("q=王", "resident") == ([], 0)  # their own household only
    _, bad = await w.call("GET", "/residents?limit=0&offset=-1", "manager", 422)
    assert problem_fields(bad) == ["limit", "offset"]


async def test_cards_searched_by_number_or_holder_with_their_name(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    _, r = await w.call("POST", "/residents", json={
        "site_id": "sunrise", "name": "赵六", "unit_id": w.unit["home"]}, status=201)
    for number in ("880001", "880002", "880003"):
        await w.call("POST", "/cards", json={"resident_id": r["id"], "card_number": number},
                     status=201)
    _, page = await w.call("GET", "/cards?q=赵六&limit=2", "manager", 200)
    assert [(c["card_number"], c["holder"]) for c in page["items"]] == [
        ("880001", "赵六"), ("880002", "赵六")]
    assert page["total"] == 3
    _, page = await w.call("GET", "/cards?q=880003", "manager", 200)
    assert [c["card_number"] for c in page["items"]] == ["880003"] and page["total"] == 1


async def test_a_card_is_replaced_in_one_step(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    old_id = w.ids["cards"]["home"]
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    await w.call("PATCH", f"/cards/{old_id}", "manager", 200,
                 json={"valid_until": until.isoformat()})
    _, new = await w.call("POST", f"/cards/{old_id}/replace", "manager", 201,
                          json={"card_number": "990001", "old_status": "lost"})
    _, old = await w.call("GET", f"/cards/{old_id}", "manager", 200)
    assert old["status"] == "lost"
    assert (new["card_number"], new["status"], new["resident_id"]) == (
        "990001", "active", old["resident_id"])
    assert datetime.fromisoformat(new["valid_until"]) == until  # the old card's validity
    # a lost card is not replaced again; a number in use is refused; nothing changes
    before = await count(sessions)
    await w.call("POST", f"/cards/{old_id}/replace", "manager", 409, json={"card_number": "990002"})
    await w.call("POST", f"/cards/{new['id']}/replace", "manager", 409,
                 json={"card_number": "990001"})
    _, bad = await w.call("POST", f"/cards/{new['id']}/replace", "manager", 422,
                          json={"card_number": "12a", "old_status": "active"})
    assert problem_fields(bad) == ["card_number", "old_status"]
    await w.call("POST", f"/cards/{new['id']}/replace", "guard", 403, json={"card_number": "1"})
    assert await count(sessions) == before
    async with sessions() as session:
        status = await session.scalar(select(CardCredential.status).where(
            CardCredential.id == new["id"]))
    assert status == "active"


async def test_a_notice_already_past_is_refused_naming_the_field(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    before = await count(sessions, Notice)
    _, bad = await w.call("POST", "/notices", "manager", 422, json={
        "site_id": "sunrise", "title": "停水", "body": "x",
        "valid_until": "2020-01-01T00:00:00+08:00"})
    assert problem_fields(bad) == ["valid_until"]
    assert "already past" in bad["detail"][0]["reason"]
    assert await count(sessions, Notice) == before
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await w.call("POST", "/notices", "manager", 201, json={
        "site_id": "sunrise", "title": "停水", "body": "x", "valid_until": soon})


async def test_a_revoked_pass_has_no_qr_code(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    _, vp = await w.call("POST", "/visitor-passes", "manager", 201,
                         json=pass_body(w.unit["home"], "home"))
    resp = await client.get(f"/api/v1/visitor-passes/{vp['id']}/qr.png",
                            headers={"Authorization": f"Bearer {w.tokens['manager']}"})
    assert resp.status == 200 and resp.content_type == "image/png"
    await w.call("POST", f"/visitor-passes/{vp['id']}/revoke", "manager", 200)
    _, gone = await w.call("GET", f"/visitor-passes/{vp['id']}/qr.png", "manager", 409)
    assert "revoked" in gone["detail"]


async def test_a_repair_names_its_place_and_contact_and_its_photo_is_kept_from_guards(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await build_world(client, sessions)
    async with sessions() as session:  # the world's resident login acts as 住户home
        user_id = await session.scalar(select(User.id).where(User.username == "resident"))
        link = await session.get(ResidentAccount, user_id)
        assert link is not None and link.resident_id == w.ids["residents"]["home"]
    _, order = await w.call("POST", "/work-orders", "resident", 201,
                            json={"title": "水龙头漏水"})
    assert order["place"] == {"building": order["place"]["building"], "unit": "101",
                              "floor": 1, "device": None, "edge": None}
    assert order["contact"] == {"name": "住户home", "phone": "13800000000"}
    resp = await client.post(f"/api/v1/work-orders/{order['id']}/photos", data=PNG,
                             headers={"Authorization": f"Bearer {w.tokens['resident']}",
                                      "Content-Type": "image/png"})
    assert resp.status == 201, await resp.text()
    url = (await resp.json())["url"].removeprefix("/api/v1")
    for role, status in (("resident", 200), ("manager", 200), ("guard", 403)):
        resp = await client.get(f"/api/v1{url}",
                                headers={"Authorization": f"Bearer {w.tokens[role]}"})
        assert resp.status == status, role
