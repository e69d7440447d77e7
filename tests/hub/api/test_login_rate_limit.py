"""The login rate limit: 5 failures per username and address within a minute, then 429 with
Retry-After whatever the password; counted in the database, so across hub workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.downlink import SIGNER
from hub import login_throttle
from hub.api import create_app
from hub.commands import CommandSender
from tests.hub.api.conftest import PASSWORD, NoBroker, RecordingPublisher

Client = TestClient[Any, Any]
LOGIN = "/api/v1/auth/login"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(login_throttle, "utcnow", clock)
    return clock


async def attempt(client: Client, username: str, password: str) -> Any:
    resp = await client.post(LOGIN, json={"username": username, "password": password})
    return resp.status, resp.headers.get("Retry-After"), await resp.json()


async def test_five_failures_then_429_until_the_window_passes(client: Client, clock: Clock) -> None:
    for _ in range(login_throttle.MAX_FAILURES):
        assert (await attempt(client, "admin", "guess"))[0] == 401
        clock.now += timedelta(seconds=5)
    status, retry, body = await attempt(client, "admin", PASSWORD)  # even the right password
    assert status == 429 and body["error"] == "too_many_requests"
    # the first failure leaves the window 60 s after it was made: 25 s have passed
    assert retry == "35" and "retry in 35 s" in body["detail"]
    # another username from the same address is not held back by admin's failures
    assert (await attempt(client, "alice", PASSWORD))[0] == 200
    clock.now += timedelta(seconds=35)
    assert (await attempt(client, "admin", PASSWORD))[0] == 200
    # a success clears the count: five more failures are needed to be refused again
    for _ in range(login_throttle.MAX_FAILURES - 1):
        assert (await attempt(client, "admin", "guess"))[0] == 401
    assert (await attempt(client, "admin", PASSWORD))[0] == 200


async def test_refused_attempts_are_not_counted_and_unknown_users_are_limited_alike(
        client: Client, clock: Clock) -> None:
    for _ in range(login_throttle.MAX_FAILURES):
        assert (await attempt(client, "nobody", "x"))[0] == 401
    for _ in range(10):  # hammering while refused does not push the release further out
        status, retry, _ = await attempt(client, "nobody", "x")
        assert (status, retry) == (429, "60")
    clock.now += timedelta(seconds=60)
    assert (await attempt(client, "nobody", "x"))[0] == 401


async def test_the_count_is_shared_by_hub_workers(
        sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher,
        clock: Clock) -> None:
    workers = [create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600,
                          commands=CommandSender(sessions, NoBroker(), SIGNER))  # type: ignore[arg-type]
               for _ in range(2)]
    async with TestClient(TestServer(workers[0])) as one, TestClient(TestServer(workers[1])) as two:
        for i in range(login_throttle.MAX_FAILURES):
            assert (await attempt(one if i % 2 else two, "admin", "guess"))[0] == 401
        assert (await attempt(one, "admin", PASSWORD))[0] == 429
        assert (await attempt(two, "admin", PASSWORD))[0] == 429
