"""The visitor-pass list: newest first, a page at a time by cursor, searched by the visitor's
name or phone and filtered by building and by state as the desk sees it; each row names its
unit (no unit list beside it). Also: the residents list names each resident's unit."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import VisitorPass
from tests.hub.api.conftest import problem_fields
from tests.hub.api.world import Client, build_world, pass_body

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]  # SQLite and PostgreSQL


async def test_passes_paged_newest_first_searched_and_filtered(
        client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    w = await build_world(client, sessions)
    made = []
    for i in range(5):
        body = pass_body(w.unit["home"], "home") | {"visitor_name": f"来访者{i}_50%",
                                                     "visitor_phone": f"1370000000{i}"}
        _, vp = await w.call("POST", "/visitor-passes", "guard", 201, json=body)
        made.append(vp["id"])
    newest_first = made[::-1]

    async def ids(query: str, role: str = "guard") -> list[int]:
        seen, cursor = [], None
        while True:
            _, page = await w.call("GET", f"/visitor-passes?{query}"
                                   + (f"&cursor={cursor}" if cursor else ""), role, 200)
            assert len(page["items"]) <= 2 or "limit=2" not in query
            seen += [p["id"] for p in page["items"] if p["id"] in made]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert await ids("limit=2&q=来访者") == newest_first  # three pages, each pass once
    _, first = await w.call("GET", "/visitor-passes?limit=2&q=来访者", "guard", 200)
    assert [p["id"] for p in first["items"]] == newest_first[:2] and first["next_cursor"]
    assert first["items"][0]["unit_label"].endswith(" 101")
    assert await ids("q=13700000003") == [made[3]]  # by phone
    assert await ids("q=50%25") == newest_first  # % is a character here, not a wildcard
    assert await ids("q=来访者%25") == []
    assert await ids(f"building_id={w.building['home']}&q=来访者") == newest_first
    assert await ids(f"building_id={w.building['away']}") == []

    await w.call("POST", f"/visitor-passes/{made[0]}/revoke", "guard", 200)
    async with sessions() as session, session.begin():  # one used up, as the doors count uses
        await session.execute(update(VisitorPass).where(VisitorPass.id == made[1])
                              .values(uses=VisitorPass.max_uses))
    assert await ids("state=revoked&q=来访者") == [made[0]]
    assert await ids("state=used_up&q=来访者") == [made[1]]
    assert await ids("state=in_force&q=来访者") == newest_first[:3]
    assert await ids("state=expired&q=来访者") == []
    assert await ids("q=来访者", "resident") == newest_first  # the host unit's resident
    _, other = await w.call("GET", "/visitor-passes?q=来访者", "admin", 200,
                            params={"site_id": "moonbay"})
    assert other["items"] == []

    _, bad = await w.call("GET", "/visitor-passes?cursor=nonsense&limit=0&state=gone",
                          "guard", 422)
    assert sorted(problem_fields(bad)) == ["cursor", "limit", "state"]


async def test_residents_name_their_unit(
        client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    w = await build_world(client, sessions)
    _, made = await w.call("POST", "/residents", "manager", 201, json={
        "site_id": "sunrise", "name": "单元名", "unit_id": w.unit["neighbour"]})
    assert made["unit_label"].endswith(" 102")
    _, page = await w.call("GET", "/residents?q=单元名", "manager", 200)
    assert [r["unit_label"] for r in page["items"]] == [made["unit_label"]]
    _, moved = await w.call("PATCH", f"/residents/{made['id']}", "manager", 200,
                            json={"unit_id": w.unit["home"]})
    assert moved["unit_label"].endswith(" 101")
    _, alone = await w.call("POST", "/residents", "manager", 201, json={
        "site_id": "sunrise", "name": "无房屋"})
    assert alone["unit_label"] is None
