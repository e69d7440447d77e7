"""The console over the API test database (SQLite and PostgreSQL, two sites), one login per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app, create_user
from hub.console import add_console
from hub.models import Household, Resident, ResidentAccount
from tests.hub.api.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    PASSWORD,
    RecordingPublisher,
    api_db_url,
    cheap_password_hashing,
    publisher,
    sessions,
)

ROLES = ("admin", "manager", "guard", "technician", "resident")


@pytest.fixture
async def console(sessions: async_sessionmaker[AsyncSession],  # noqa: F811
                  publisher: RecordingPublisher) -> AsyncIterator[TestClient[Any, Any]]:  # noqa: F811
    async with sessions() as session, session.begin():
        household = Household(site_id="sunrise", unit_id=101, name="")
        session.add(household)
        await session.flush()
        resident = Resident(site_id="sunrise", unit_id=101, name="张伟", household_id=household.id)
        session.add(resident)
        await session.flush()
        for role in ROLES:
            user = await create_user(session, f"c-{role}", PASSWORD, role,
                                     None if role == "admin" else "sunrise")
            if role == "resident":
                user.household_id = household.id
                session.add(ResidentAccount(user_id=user.id, resident_id=resident.id))
    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600)
    add_console(app)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def cookies(console: TestClient[Any, Any]) -> dict[str, str]:
    """role -> the Cookie header of a session of that role."""
    out = {}
    for role in ROLES:
        resp = await console.post("/api/v1/auth/login",
                                  json={"username": f"c-{role}", "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        out[role] = f"lintel_session={(await resp.json())['token']}"
    console.session.cookie_jar.clear()  # each request names its session itself
    return out
