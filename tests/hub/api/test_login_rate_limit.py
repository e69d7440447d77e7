"""The login rate limit: 5 failures per username and address within a minute (20 per username,
20 per address), then 429 with Retry-After whatever the password; counted in the database
before the password is checked, so across hub workers and for concurrent attempts."""

from __future__ import annotations

import asyncio
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


async def test_concurrent_wrong_logins_are_not_all_tried(client: Client) -> None:
    """60 wrong logins at once: each is counted before its password is checked, so at most the
    limit's worth reach the password (the rest 429; when all are counted before any looks, none
    do), on SQLite and PostgreSQL alike."""
    answers = await asyncio.gather(*(attempt(client, "admin", f"guess{i}") for i in range(60)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(401) <= login_throttle.MAX_FAILURES, statuses
    assert statuses.count(429) >= 60 - login_throttle.MAX_FAILURES
    assert set(statuses) <= {401, 429}
    # the right password waits too once the limit's worth of failures are counted
    right = (await attempt(client, "admin", PASSWORD))[0]
    assert right == (429 if statuses.count(401) == login_throttle.MAX_FAILURES else 200)


async def test_per_account_and_per_address_limits(
        sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher,
        clock: Clock) -> None:
    """Guessing one account from many addresses, and many accounts from one address."""
    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600)
    async with TestClient(TestServer(app)) as client:
        # the test server sees one peer; the throttle is handed the addresses directly
        for i in range(login_throttle.MAX_PER_ACCOUNT):
            attempt_ = await login_throttle.begin(sessions, "admin", f"10.0.0.{i}")
            await login_throttle.failed(sessions, attempt_)
        with pytest.raises(login_throttle.Throttled) as held:
            await login_throttle.begin(sessions, "admin", "10.0.1.1")
        assert held.value.which == "username" and held.value.retry_after == 60
        # so is the API's answer for admin from the test client's own address
        status, retry, body = await attempt(client, "admin", PASSWORD)
        assert (status, retry) == (429, "60") and "this username;" in body["detail"]
        for i in range(login_throttle.MAX_PER_ADDRESS):
            attempt_ = await login_throttle.begin(sessions, f"user{i}", "10.9.9.9")
            await login_throttle.failed(sessions, attempt_)
        with pytest.raises(login_throttle.Throttled) as held:
            await login_throttle.begin(sessions, "someone-else", "10.9.9.9")
        assert held.value.which == "address"
        # the alice from another address is not held back by either
        assert (await attempt(client, "alice", PASSWORD))[0] == 200
        clock.now += timedelta(seconds=61)
        assert (await attempt(client, "admin", PASSWORD))[0] == 200


async def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address(
        sessions: async_sessionmaker[AsyncSession], publisher: RecordingPublisher,
        clock: Clock) -> None:
    """Behind the site's reverse proxy one guesser's failures hold back that guesser, not every
    client the proxy forwards; a forged X-Forwarded-For from anyone else changes nothing."""
    async def from_(client: Client, forwarded: str, password: str) -> int:
        resp = await client.post(LOGIN, json={"username": "admin", "password": password},
                                 headers={"X-Forwarded-For": forwarded})
        return resp.status

    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600,
                     trusted_proxies=("127.0.0.0/8",))
    async with TestClient(TestServer(app)) as behind:
        for _ in range(login_throttle.MAX_FAILURES):
            assert await from_(behind, "203.0.113.7", "guess") == 401
        assert await from_(behind, "203.0.113.7", PASSWORD) == 429
        assert await from_(behind, "203.0.113.8", PASSWORD) == 200  # another client
    clock.now += timedelta(seconds=60)
    direct = create_app(sessions=sessions, publisher=publisher, token_ttl_s=3600)
    async with TestClient(TestServer(direct)) as client:  # no proxy trusted: the header is not
        for i in range(login_throttle.MAX_FAILURES):
            assert await from_(client, f"198.51.100.{i}", "guess") == 401
        assert await from_(client, "198.51.100.99", PASSWORD) == 429
