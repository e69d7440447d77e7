"""An API app over a fresh database (SQLite and PostgreSQL), seeded with two sites."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import String, event, func, literal, select, text, union_all
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

import hub.api.core.auth as api_auth
from harness.downlink import SIGNER
from hub.api import create_app, create_user
from hub.commands import CommandSender
from hub.models import Building, Door, Edge, Site, Unit
from hub.schema import metadata

PASSWORD = "correct horse battery staple"


@dataclass
class RecordingPublisher:
    """Stands in for hub.compiler.PermissionPublisher at the API's edge."""

    calls: list[str] = field(default_factory=list)
    edge_calls: list[tuple[str, list[int]]] = field(default_factory=list)

    def registry_changed(
        self, site_id: str, edges: Iterable[int] | None = None,
        residents: Iterable[int] | None = None,
    ) -> None:
        self.calls.append(site_id)
        if edges is not None:
            self.edge_calls.append((site_id, sorted(edges)))


class NoBroker:
    """Stands in for the hub's MQTT client at the API's edge: commands are recorded, not sent."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, **_: Any) -> None:
        self.published.append((topic, payload))


def _sqlite_fk(dbapi_conn: Any, _record: Any) -> None:
    # as hub.db does in production: SQLite enforces foreign keys only when asked
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # production argon2 costs ~0.1 s a hash; the tests make hundreds of users
    monkeypatch.setattr(
        api_auth, "_default_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def api_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/api.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def sessions(api_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(api_db_url)
    if api_db_url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_fk)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    # expire_on_commit left on: the API must not depend on objects surviving a commit
    maker = async_sessionmaker(engine)
    await _seed(maker)
    try:
        yield maker
    finally:
        await engine.dispose()


async def _seed(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as session, session.begin():
        session.add_all(
            [Site(id="sunrise", name="Sunrise Garden"), Site(id="moonbay", name="Moon Bay")]
        )
        await session.flush()
        b1 = Building(site_id="sunrise", code="B1", name="Building 1")
        m1 = Building(site_id="moonbay", code="M1", name="Moon 1")
        session.add_all([b1, m1])
        await session.flush()
        session.add_all(
            [
                Unit(id=101, building_id=b1.id, number="101", floor=1),
                Unit(id=901, building_id=m1.id, number="901", floor=9),
            ]
        )
        e1 = Edge(
            site_id="sunrise",
            name="edge-b1",
            building_id=b1.id,
            status="online",
            perm_version_held=3,
        )
        e2 = Edge(site_id="moonbay", name="edge-m1", building_id=m1.id)
        session.add_all([e1, e2])
        await session.flush()
        session.add_all(
            [
                Door(site_id="sunrise", edge_id=e1.id, name="B1-main", label="Main entrance"),
                Door(site_id="sunrise", edge_id=e1.id, name="B1-garage", label="Garage"),
                Door(
                    site_id="moonbay",
                    edge_id=e2.id,
                    name="M1-main",
                    label="Main",
                    mode="locked_down",
                ),
            ]
        )
        await create_user(session, "admin", PASSWORD, "admin")
        await create_user(session, "alice", PASSWORD, "resident", site_id="sunrise")


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher
) -> AsyncIterator[TestClient[Any, Any]]:
    commands = CommandSender(sessions, NoBroker(), SIGNER)  # type: ignore[arg-type]
    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600, commands=commands)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def token(client: TestClient[Any, Any]) -> str:
    resp = await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["token"])


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def count(maker: async_sessionmaker[AsyncSession], *models: Any) -> dict[str, int]:
    """Rows per table, to show that a refused request changed nothing."""
    tables = models or tuple(metadata.sorted_tables)
    async with maker() as session:  # one round trip: the role matrix counts thousands of times
        assert session.bind is not None
        sql = _count_sql(tables, session.bind.dialect)
        rows = (await session.execute(text(sql))).all()
    return {name: int(n) for name, n in rows}


@functools.cache
def _count_sql(tables: tuple[Any, ...], dialect: Dialect) -> str:
    """The counting statement rendered once per set of tables: building and compiling a
    union of every table anew took most of the role matrix's time."""
    counts = [
        select(literal(getattr(t, "__tablename__", None) or t.name, String()).label("t"),
               func.count().label("n")).select_from(t)
        for t in tables
    ]
    return str(union_all(*counts).compile(dialect=dialect,
                                          compile_kwargs={"literal_binds": True}))


def problem_fields(body: dict[str, Any]) -> list[str]:
    assert body["error"] == "validation", body
    return [p["field"] for p in body["detail"]]
