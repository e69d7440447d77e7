"""The way out for an edge that refuses the hub's versions (POST /edges/{id}/reset-permissions
and /reset-config): nothing published yet is 409 saying so in the reader's language; once a
version is published, the signed command names that version and hash; an unknown edge is 404.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER
from hub.api import create_app
from hub.commands import CommandSender
from hub.models import Edge, EdgeConfigVersion, PermissionVersion
from tests.hub.api.conftest import PASSWORD, NoBroker, RecordingPublisher
from wire.signed import unseal

Client = TestClient[Any, Any]
API = "/api/v1"
PATHS = {"permissions": "reset-permissions", "config": "reset-config"}
TABLES = {"permissions": PermissionVersion, "config": EdgeConfigVersion}


class NoPush:
    """Stands in for the configuration pusher: the hub's version is whatever the table says."""

    def __init__(self) -> None:
        self.pushed: list[tuple[int, bool]] = []

    async def push(self, edge_id: int, *, force: bool = False) -> object:
        self.pushed.append((edge_id, force))
        return None


@pytest.fixture
async def hub(sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher
              ) -> AsyncIterator[tuple[Client, NoBroker, NoPush, int, dict[str, str]]]:
    broker, configs = NoBroker(), NoPush()
    commands = CommandSender(sessions, broker, SIGNER, configs=configs)  # type: ignore[arg-type]
    app = create_app(sessions=sessions, publisher=publisher, commands=commands)
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(API + "/auth/login",
                                 json={"username": "admin", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        async with sessions() as session:
            edge = await session.scalar(select(Edge.id).where(Edge.name == "edge-m1"))
        assert edge is not None
        yield client, broker, configs, edge, auth


@pytest.mark.parametrize("what", ["permissions", "config"])
async def test_a_reset_names_the_hubs_current_version_or_says_there_is_none(
        hub: tuple[Client, NoBroker, NoPush, int, dict[str, str]],
        sessions: async_sessionmaker[AsyncSession], what: str) -> None:
    client, broker, configs, edge, auth = hub
    path = f"{API}/edges/{edge}/{PATHS[what]}"
    word = {"permissions": "permissions", "config": "configuration"}[what]
    resp = await client.post(path, json={"reason": "restored"}, headers=auth)
    assert resp.status == 409
    body = await resp.json()
    assert body["detail"] == (f"no {'permission snapshot' if what == 'permissions' else word} "
                              "has been published to edge edge-m1 yet: there is nothing to "
                              "reset it to")
    assert "edge-m1" in body["message"] and word in body["message"]
    resp = await client.post(path, json={"reason": "restored"},
                             headers={**auth, "Accept-Language": "zh-CN"})
    zh = (await resp.json())["message"]
    assert {"permissions": "权限", "config": "配置"}[what] in zh and "edge-m1" in zh
    assert broker.published == []

    async with sessions() as session, session.begin():
        session.add(TABLES[what](edge_id=edge, version=7, hash="ab" * 32,
                                 published_at=datetime(2026, 1, 1, tzinfo=UTC)))
    resp = await client.post(path, json={"reason": "restored"}, headers=auth)
    assert resp.status == 202, await resp.text()
    sent = await resp.json()
    assert (sent["command"], sent["edge"], sent["status"]) == (f"reset_{what}", "edge-m1", "sent")
    assert len(broker.published) == 1
    topic, payload = broker.published[0]
    assert topic.endswith("/moonbay/edge-m1/cmd")
    command = json.loads(unseal(payload).body)
    prefix = "perm" if what == "permissions" else "config"
    assert (command["command"], command[f"{prefix}_version"], command[f"{prefix}_hash"]) == (
        f"reset_{what}", 7, "ab" * 32)
    if what == "config":  # compiled first, then sent again after the command
        assert configs.pushed[-2:] == [(edge, False), (edge, True)]

    resp = await client.post(f"{API}/edges/999999/{PATHS[what]}", json={"reason": "x"},
                             headers=auth)
    assert resp.status == 404
