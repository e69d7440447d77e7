"""The live feed's WebSocket endpoint: who may open it, and what it delivers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_user
from hub.api.core.keys import LIVE
from hub.live import LiveItem
from tests.hub.api.conftest import PASSWORD
from tests.support.waiting import until


async def _login(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"username": username,
                                                          "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_a_guard_receives_pushes_of_their_site_only(
    client: TestClient[Any, Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await create_user(session, "guard-s", PASSWORD, "guard", site_id="sunrise")
    headers = await _login(client, "guard-s")
    bus = client.app[LIVE]
    async with client.ws_connect("/api/v1/live?channels=access,door", headers=headers) as ws:
        async def registered() -> bool:
            return bus.listeners == 1
        await until(registered)
        await bus.publish([
            LiveItem("access", {"id": "other"}, site_id="moonbay"),
            LiveItem("edges", {"id": "not-asked"}, site_id="sunrise"),
            LiveItem("access", {"id": "mine"}, site_id="sunrise"),
        ])
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.TEXT
        assert json.loads(msg.data) == {"channel": "access", "data": {"id": "mine"}}
    async def gone() -> bool:
        return bus.listeners == 0
    await until(gone)  # a closed console is forgotten


async def test_a_resident_may_not_listen_to_the_access_log(client: TestClient[Any, Any]) -> None:
    headers = await _login(client, "alice")
    resp = await client.get("/api/v1/live?channels=access", headers=headers)
    assert resp.status == 403
    assert "access" in (await resp.json())["detail"]


async def test_unknown_channel_missing_upgrade_and_no_token_are_clear_errors(
    client: TestClient[Any, Any], token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    resp = await client.get("/api/v1/live?channels=access,gossip", headers=headers)
    assert resp.status == 422
    assert "gossip" in json.dumps(await resp.json())
    resp = await client.get("/api/v1/live?channels=access", headers=headers)
    assert resp.status == 400
    assert "WebSocket" in (await resp.json())["detail"]
    client.session.cookie_jar.clear()  # the login's session cookie
    resp = await client.get("/api/v1/live?channels=access")
    assert resp.status == 401


async def test_a_push_reads_in_each_consoles_language(
    client: TestClient[Any, Any], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """One alarm pushed once: the Chinese console reads 火灾报警, the English one Fire alarm."""
    from hub.texts import marker

    async with sessions() as session, session.begin():
        await create_user(session, "guard-zh", PASSWORD, "guard", site_id="sunrise")
    headers = await _login(client, "guard-zh")
    bus = client.app[LIVE]
    async with client.ws_connect("/api/v1/live?channels=alarms&lang=zh",
                                 headers=headers) as zh, client.ws_connect(
            "/api/v1/live?channels=alarms", headers={**headers, "Accept-Language": "en-GB"}) as en:
        async def registered() -> bool:
            return bus.listeners == 2
        await until(registered)
        await bus.publish([LiveItem("alarms", {"message": marker("alarm_type.fire_alarm", None,
                                                                 "FIRE")}, site_id="sunrise")])
        got = [json.loads((await ws.receive(timeout=5)).data)["data"] for ws in (zh, en)]
    assert got == [{"message": "火灾报警"}, {"message": "Fire alarm"}]
