"""Reads from a real hot standby, writes to the primary, read-your-writes by WAL position
(issue 19 point 2). A primary and a `pg_basebackup -R` standby are started for this module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

import hub.api.core.auth as api_auth
from hub.api import create_app, create_user
from hub.api.core.replica import LSN_COOKIE, LSN_HEADER
from hub.console import add_console
from hub.db import create_engine, create_sessionmaker, run_migrations
from hub.errors import ConfigError
from hub.replica import ReplicaReads
from hub.service import Hub
from hub.settings import HubSettings, load_settings
from tests.hub.api.conftest import PASSWORD, RecordingPublisher
from tests.support.services import MosquittoServer, PostgresServer, PostgresStandby

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
DB = "fleet"


@dataclass
class Pair:
    primary: PostgresServer
    standby: PostgresStandby

    def sql(self, server: PostgresServer, query: str) -> Any:
        with psycopg.connect(server.dsn(DB), autocommit=True) as conn:
            row = conn.execute(query).fetchone()  # type: ignore[arg-type]
            return None if row is None else row[0]

    def wait_caught_up(self, timeout: float = 10.0) -> None:
        target = self.sql(self.primary, "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while self.sql(self.standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'") is not True:
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    primary = PostgresServer({"wal_level": "replica", "shared_buffers": "16MB"})
    primary.start()
    try:
        run_migrations(primary.create_database(DB))  # before the copy: nothing left to replay
        standby = PostgresStandby(primary)
        standby.start()
        try:
            yield Pair(primary, standby)
        finally:
            standby.stop()
    finally:
        primary.stop()


@pytest.fixture
async def client(pair: Pair, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[tuple[TestClient[Any, Any], ReplicaReads]]:
    monkeypatch.setattr(api_auth, "_default_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    primary = create_engine(pair.primary.url(DB))
    replica = create_engine(pair.standby.url(DB), connect_args={"connect_timeout": 2})
    sessions = create_sessionmaker(primary)
    if pair.sql(pair.primary, "SELECT count(*) FROM users") == 0:
        async with sessions() as session, session.begin():
            await create_user(session, "admin", PASSWORD, "admin")
    try:
        async with ReplicaReads(sessions, create_sessionmaker(replica),
                                check_interval_s=0.2) as reads:
            app = create_app(sessions=sessions, publisher=RecordingPublisher(), replica=reads)
            add_console(app)
            async with TestClient(TestServer(app)) as test_client:
                resp = await test_client.post("/api/v1/auth/login",
                                              json={"username": "admin", "password": PASSWORD})
                assert resp.status == 200, await resp.text()
                test_client.session.headers["Authorization"] = f"Bearer {(await resp.json())['token']}"
                test_client.session.cookie_jar.clear()
                pair.wait_caught_up()  # the login's own write, before any test pauses replay
                yield test_client, reads
    finally:
        await primary.dispose()
        await replica.dispose()


@pytest.fixture
def paused(pair: Pair) -> Iterator[None]:
    pair.sql(pair.standby, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        pair.sql(pair.standby, "SELECT pg_wal_replay_resume()")


async def site_ids(client: TestClient[Any, Any], **kwargs: Any) -> set[str]:
    resp = await client.get("/api/v1/sites", **kwargs)
    assert resp.status == 200, await resp.text()
    return {s["id"] for s in (await resp.json())["items"]}


async def test_plain_reads_come_from_the_replica_and_the_writer_reads_its_own_writes(
        pair: Pair, client: tuple[TestClient[Any, Any], ReplicaReads], paused: None) -> None:
    api, _ = client
    resp = await api.post("/api/v1/sites", json={"id": "ryw", "name": "Read Your Writes"})
    assert resp.status == 201, await resp.text()
    lsn = resp.headers[LSN_HEADER]
    assert resp.cookies[LSN_COOKIE].value == lsn

    assert "ryw" in await site_ids(api)  # the writer's cookie: read from the primary
    api.session.cookie_jar.clear()
    assert "ryw" not in await site_ids(api)  # a plain read: the paused replica has not replayed it
    assert "ryw" in await site_ids(api, headers={LSN_HEADER: lsn})  # API clients: the header
    # a row written to the primary behind the API's back is not seen by a plain read either
    pair.sql(pair.primary, "INSERT INTO sites (id, name, timezone) "
                           "VALUES ('direct', 'Direct', 'Asia/Shanghai') RETURNING id")
    assert "direct" not in await site_ids(api)

    pair.sql(pair.standby, "SELECT pg_wal_replay_resume()")
    pair.wait_caught_up()
    resp = await api.get("/api/v1/sites", headers={"Cookie": f"{LSN_COOKIE}={lsn}"})
    assert {"ryw", "direct"} <= {s["id"] for s in (await resp.json())["items"]}
    assert resp.cookies[LSN_COOKIE].value == ""  # caught up: the position is dropped


async def test_lag_on_health_and_overview(
        pair: Pair, client: tuple[TestClient[Any, Any], ReplicaReads], paused: None) -> None:
    api, reads = client
    pair.sql(pair.primary, "INSERT INTO sites (id, name, timezone) "
                           "VALUES ('lag', 'Lag', 'Asia/Shanghai') RETURNING id")
    pair.sql(pair.primary, "SELECT pg_switch_wal()")  # WAL the paused replica cannot replay
    status = await reads.check()
    assert status.state == "paused" and (status.lag_bytes or 0) > 0

    health = await (await api.get("/api/v1/health")).json()
    assert health["status"] == "ok"
    assert health["replica"]["state"] == "paused" and health["replica"]["lag_bytes"] > 0
    metrics = await (await api.get("/api/v1/metrics")).text()
    assert "lintel_replica_up 1\n" in metrics
    assert f"lintel_replica_lag_bytes {status.lag_bytes}\n" in metrics
    page = await api.get("/manage", headers={"Accept-Language": "en"})
    assert page.status == 200
    assert "Read replica: replay paused" in await page.text()


async def test_replica_down_reads_fall_back_to_the_primary_with_a_warning(
        pair: Pair, client: tuple[TestClient[Any, Any], ReplicaReads]) -> None:
    api, reads = client
    pair.sql(pair.primary, "INSERT INTO sites (id, name, timezone) "
                           "VALUES ('down', 'Down', 'Asia/Shanghai') RETURNING id")
    pair.standby.halt()
    try:
        assert "down" in await site_ids(api)  # served, from the primary: not an outage
        assert reads.status.state == "down"
        resp = await api.get("/api/v1/health")
        health = await resp.json()
        assert resp.status == 200 and health["status"] == "degraded"
        assert health["replica"]["state"] == "down"
        assert "lintel_replica_up 0\n" in await (await api.get("/api/v1/metrics")).text()
        page = await api.get("/manage", headers={"Accept-Language": "zh"})
        assert "只读副本无法连接" in await page.text()
    finally:
        pair.standby.resume()
    async with asyncio.timeout(10):  # back on the replica once it answers again
        while (await reads.check()).state == "down":
            await asyncio.sleep(0.2)


async def test_the_hub_reads_from_the_replica_it_is_given(
        pair: Pair, mosquitto: MosquittoServer, tmp_path: Any) -> None:
    settings = HubSettings(database_url=pair.primary.url(DB),
                           database_replica_url=pair.standby.url(DB), replica_check_interval_s=0.2,
                           mqtt_port=mosquitto.port, http_port=0, data_dir=tmp_path,
                           admin_password="correct horse")  # type: ignore[arg-type]
    async with Hub(settings) as hub, aiohttp.ClientSession() as http:
        assert hub.replica is not None
        async with http.get(f"{hub.url}/api/v1/health") as resp:
            assert (await resp.json())["replica"]["state"] in ("ok", "paused")


def test_a_replica_needs_postgresql_on_both_sides() -> None:
    with pytest.raises(ConfigError, match=r"database_replica_url.*database_url on PostgreSQL"):
        load_settings(database_url="sqlite+aiosqlite:///x.db",
                      database_replica_url="postgresql+psycopg://u@h/db")
    with pytest.raises(ConfigError, match=r"database_replica_url.*postgresql"):
        load_settings(database_url="postgresql+psycopg://u@h/db",
                      database_replica_url="sqlite+aiosqlite:///x.db")
    assert load_settings(database_replica_url="").database_replica_url is None
