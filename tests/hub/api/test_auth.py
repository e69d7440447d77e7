from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.auth import token_hash
from hub.models import ApiToken
from tests.hub.api.conftest import PASSWORD, problem_fields

Client = TestClient[Any, Any]


async def test_health_needs_no_token(client: Client) -> None:
    resp = await client.get("/api/v1/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_login_gives_a_token_stored_hashed(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    resp = await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    async with sessions() as session:
        stored = await session.scalar(select(ApiToken.token_hash))
    assert stored == token_hash(body["token"]) != body["token"]
    resp = await client.get("/api/v1/sites", headers={"Authorization": f"Bearer {body['token']}"})
    assert resp.status == 200


async def test_login_refuses_bad_password_and_unknown_user(client: Client) -> None:
    for creds in (
        {"username": "admin", "password": "wrong"},
        {"username": "nobody", "password": "x"},
    ):
        resp = await client.post("/api/v1/auth/login", json=creds)
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_login_validates_its_body(client: Client) -> None:
    resp = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD, "remember": True}
    )
    assert resp.status == 422
    assert problem_fields(await resp.json()) == ["remember"]
    resp = await client.post(
        "/api/v1/auth/login",
        data=b'{"username": "admin",',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "bad_request" and "not valid JSON" in body["detail"]


async def test_401_without_or_with_a_garbage_token(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic YTpi"}):
        resp = await client.get("/api/v1/residents", headers=headers)
        assert resp.status == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"] == "unauthorized"


async def test_401_with_an_expired_token(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    resp = await client.get("/api/v1/residents", headers=auth)
    assert resp.status == 401


async def test_logout_revokes_the_token(client: Client, auth: dict[str, str]) -> None:
    assert (await client.get("/api/v1/residents", headers=auth)).status == 200
    resp = await client.post("/api/v1/auth/logout", headers=auth)
    assert resp.status == 204
    assert (await client.get("/api/v1/residents", headers=auth)).status == 401
    assert (await client.post("/api/v1/auth/logout", headers=auth)).status == 401


async def test_a_resident_user_is_not_staff(client: Client) -> None:
    resp = await client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    token = (await resp.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    resp = await client.get("/api/v1/schedules", headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"] == "forbidden"
    # since issue 3 a resident reads residents, but only their own household's (alice has
    # none yet, so: nobody)
    resp = await client.get("/api/v1/residents", headers=headers)
    assert resp.status == 200
    assert (await resp.json())["items"] == []


async def test_unknown_route_and_method_answer_json(client: Client, auth: dict[str, str]) -> None:
    resp = await client.get("/api/v1/nothing-here", headers=auth)
    assert resp.status == 404
    assert (await resp.json())["error"] == "not_found"
    resp = await client.put("/api/v1/residents", headers=auth, json={})
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
