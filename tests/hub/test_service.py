from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from harness.services import free_port
from hub.models import CardCredential, Door, Resident, User
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from tests.hub.support import count
from tests.support.services import MosquittoServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_hub_starts_serves_health_and_bootstraps_admin(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    settings = HubSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
                           mqtt_port=mosquitto.port, http_port=0, data_dir=tmp_path,
                           admin_username="root", admin_password="correct horse")  # type: ignore[arg-type]
    async with Hub(settings) as hub:
        assert hub.url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/api/v1/health") as r:
            assert r.status == 200
        async with hub.sessions() as session:
            admin = (await session.execute(select(User))).scalar_one()
        assert (admin.username, admin.role) == ("root", "admin")
        assert PasswordHasher().verify(admin.password_hash, "correct horse")
    async with Hub(settings) as hub:  # a second start creates no second admin
        assert await count(hub.sessions, User) == 1


async def test_seed_is_idempotent(mosquitto: MosquittoServer, tmp_path: Path) -> None:
    settings = HubSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
                           mqtt_port=mosquitto.port, http_port=0, data_dir=tmp_path)
    async with Hub(settings) as hub:
        assert hub.admin_password  # generated and reported once
        await seed_demo(hub.sessions)
        await seed_demo(hub.sessions)
        assert await count(hub.sessions, Door) == 2
        assert await count(hub.sessions, Resident) == 2
        async with hub.sessions() as session:
            cards = set((await session.execute(select(CardCredential.card_number))).scalars())
            groups = (await session.execute(
                select(Resident.name, func.count()).join(Resident.groups).group_by(Resident.name)
            )).all()
        assert cards == {"1001", "1002"}
        assert groups == [("张伟", 1)]


async def test_two_workers_share_the_api_port_with_reuse_port(
        mosquitto: MosquittoServer, tmp_path: Path) -> None:
    """http_reuse_port: a second hub worker listens on the first's port (the API's capacity
    past one core) and either answers; without it the second cannot bind the port."""
    port = free_port()
    common: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/hub.db", "mqtt_port": mosquitto.port,
        "http_port": port, "data_dir": tmp_path, "admin_password": "correct horse"}
    first = HubSettings(**common, mqtt_client_id="hub-a", http_reuse_port=True)
    second = HubSettings(**common, mqtt_client_id="hub-b", http_reuse_port=True)
    alone = HubSettings(**common, mqtt_client_id="hub-c")
    async with Hub(first) as a:
        with pytest.raises(OSError):
            async with Hub(alone):
                pass
        async with Hub(second) as b:
            assert a.url == b.url == f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(4):  # new connections, whichever worker the kernel picks
                    async with http.get(f"{a.url}/api/v1/health",
                                        headers={"Connection": "close"}) as r:
                        assert r.status == 200
        async with aiohttp.ClientSession() as http, http.get(f"{a.url}/api/v1/health") as r:
            assert r.status == 200  # the first still serves after the second stopped
