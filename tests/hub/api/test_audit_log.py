"""The audit log (issue 19): every write through the API leaves one entry (who, what, before and
after, when, from where, the company), recorded centrally; a refused write leaves none; secrets
never; searched and exported within the caller's scope. (That every route's write leaves
exactly one entry is checked by the role matrix, for every role and place.)"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app
from hub.audit import AuditEntry
from tests.hub.api.conftest import PASSWORD, RecordingPublisher
from tests.hub.api.world import ALWAYS, World, build_world

Client = TestClient[Any, Any]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
async def world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(client, sessions)


async def _entries(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def _last(sessions: async_sessionmaker[AsyncSession]) -> AuditEntry:
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert entry is not None
        return entry


async def test_a_change_leaves_one_entry_with_before_and_after(world: World) -> None:
    rid = world.ids["residents"]["home"]
    start = await _entries(world.sessions)
    await world.call("PATCH", f"/residents/{rid}", "manager", 200, json={"phone": "13900000009"})
    assert await _entries(world.sessions) == start + 1
    entry = await _last(world.sessions)
    assert (entry.actor, entry.resource, entry.resource_key, entry.action, entry.method) == (
        "manager", "residents", str(rid), "update", "PATCH")
    assert entry.before == {"phone": "13800000000"}
    assert entry.after is not None and entry.after["phone"] == "13900000009"
    assert (entry.site_id, entry.company_id, entry.remote_addr) == ("sunrise", "acme", "127.0.0.1")
    assert entry.path == f"/api/v1/residents/{rid}"
    # created and removed: the whole row after, the whole row before
    _, made = await world.call("POST", "/schedules", "company_admin", 201, json={
        "site_id": "sunrise", "name": "night", "windows": ALWAYS})
    created = await _last(world.sessions)
    assert (created.action, created.resource_key, created.actor) == (
        "create", str(made["id"]), "company_admin")
    assert created.before is None and created.after is not None
    assert created.after["name"] == "night"
    await world.call("DELETE", f"/schedules/{made['id']}", "company_admin", 204)
    removed = await _last(world.sessions)
    assert removed.action == "delete" and removed.after is None
    assert removed.before is not None and removed.before["name"] == "night"


async def test_a_refused_write_leaves_nothing_and_secrets_never_appear(world: World) -> None:
    start = await _entries(world.sessions)
    await world.call("PATCH", f"/residents/{world.ids['residents']['away']}", "manager", 404,
                     json={"phone": "13900000009"})
    await world.call("POST", "/users", "company_admin", 403,
                     json={"username": "x", "password": PASSWORD, "role": "admin"})
    assert await _entries(world.sessions) == start
    secret = "a very secret password 42"
    await world.call("POST", "/users", "company_admin", 201, json={
        "username": "new-guard", "password": secret, "role": "guard", "site_id": "sunrise"})
    entry = await _last(world.sessions)
    assert entry.resource == "users" and entry.company_id == "acme"
    assert entry.after is not None and entry.after["password_hash"] == "(secret)"
    text = str(entry.before) + str(entry.after)
    assert secret not in text and "argon2" not in text


async def test_the_search_and_export_keep_to_the_company(world: World) -> None:
    """acme's admin finds acme's entries by user, resource, window and text, never rival's;
    the CSV export too; the platform admin sees both companies; a manager their site."""
    await world.call("PATCH", f"/residents/{world.ids['residents']['away']}", "admin", 200,
                     json={"phone": "13700000001"})
    await world.call("PATCH", f"/residents/{world.ids['residents']['home']}", "manager", 200,
                     json={"phone": "13700000002"})
    _, mine = await world.call("GET", "/audit?limit=500", "company_admin", 200)
    assert mine["items"] and {i["company_id"] for i in mine["items"]} == {"acme"}
    assert all(i["site_id"] in (None, "sunrise") for i in mine["items"])
    _, everything = await world.call("GET", "/audit?limit=500&q=1370000000", "admin", 200)
    assert {i["company_id"] for i in everything["items"]} == {"acme", "rival"}
    _, found = await world.call("GET", "/audit?user=manager&resource=residents&q=13700000002",
                                "company_admin", 200)
    assert [i["after"]["phone"] for i in found["items"]] == ["13700000002"]
    _, none = await world.call("GET", "/audit?q=13700000001", "company_admin", 200)
    assert none["items"] == []  # rival's change, though the text matches
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    _, later = await world.call("GET", f"/audit?since={soon}", "company_admin", 200)
    assert later["items"] == []
    await world.call("GET", "/audit?site_id=moonbay", "company_admin", 403)
    await world.call("GET", "/audit?company_id=rival", "company_admin", 422)
    await world.call("GET", "/audit", "guard", 403)
    _, bad = await world.call("GET", "/audit?q=a%00b", "company_admin", 422)
    assert bad["detail"][0]["field"] == "q"
    _, site = await world.call("GET", "/audit?limit=500", "manager", 200)
    assert {i["site_id"] for i in site["items"]} == {"sunrise"}
    # paging: two at a time, newest first, to the end
    seen: list[int] = []
    cursor = ""
    while True:
        _, page = await world.call("GET", f"/audit?limit=2{cursor}", "company_admin", 200)
        seen += [i["id"] for i in page["items"]]
        if page["next"] is None:
            break
        cursor = f"&before={page['next']}"
    assert seen == [i["id"] for i in mine["items"]]
    # the export: every match, as CSV, acme's only
    _, text = await world.call("GET", "/audit?format=csv", "company_admin", 200)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(mine["items"]) and {r["company_id"] for r in rows} == {"acme"}
    assert "moonbay" not in text and "13700000001" not in text
    assert any("13700000002" in r["after"] for r in rows)


async def test_the_client_address_comes_from_a_trusted_proxy_only(
    sessions: async_sessionmaker[AsyncSession], client: Client, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.7"}
    resp = await client.post("/api/v1/sites", json={"id": "s1", "name": "S1"}, headers=headers)
    assert resp.status == 201
    assert (await _last(sessions)).remote_addr == "127.0.0.1"  # the header of nobody trusted
    app = create_app(sessions=sessions, publisher=RecordingPublisher(), token_ttl_s=3600,
                     trusted_proxies=("127.0.0.0/8",))
    async with TestClient(TestServer(app)) as behind:
        headers["X-Forwarded-For"] = "198.51.100.1, 203.0.113.9"  # a forged hop, then the real
        resp = await behind.post("/api/v1/sites", json={"id": "s2", "name": "S2"},
                                 headers=headers)
        assert resp.status == 201
    entry = await _last(sessions)
    assert (entry.remote_addr, entry.resource_key, entry.company_id) == (
        "203.0.113.9", "s2", "default")
