"""Signed credentials end to end on real parts: the API issues a QR code, a visitor pass or
registers a phone key → the hub compiles and publishes → the edge verifies offline → the OSDP
reader (libosdp) or the Bluetooth reader simulator → relay and access event at the hub.
Mosquitto + SQLite, and the visitor pass path also on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from hub.api import create_user
from hub.models import Resident, ResidentAccount
from hub.service import Hub
from simulators.ble_reader import BleReaderSimulator
from simulators.phone import PhoneSimulator
from tests.integration.test_first_door import Stack
from tests.support.building import broker, demo_building
from tests.support.services import PostgresServer
from wire.tokens import BleAnswer, decode_token, encode_token

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RESIDENT_PASSWORD = "resident password 1"


async def _resident_login(hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
        assert zhang is not None
        user = await create_user(session, "zhang", RESIDENT_PASSWORD, "resident", "demo")
        session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))


@contextlib.asynccontextmanager
async def running(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    if db_kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database(f"cred_{secrets.token_hex(4)}")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url, unlock_s=0.5,
        publish_debounce_s=0.05, prepare=_resident_login,
        ready=lambda agent: bool(agent.cache.state and agent.cache.state.hub_public_key),
    ) as building:
        yield building


@pytest.fixture(params=["sqlite", "postgres"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(request.param, request, tmp_path) as s:
        yield s


async def resident_token(s: Stack) -> str:
    reply = await s.call("POST", "/auth/login", {"username": "zhang", "password": RESIDENT_PASSWORD})
    return str(reply["token"])


async def as_resident(s: Stack, token: str, method: str, path: str, body: Any = None,
                      status: int = 200) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.request(
        method, f"{s.api}{path}", json=body, headers=headers
    ) as resp:
        payload = await resp.json()
        assert resp.status == status, (resp.status, payload)
        return payload


async def access_event(s: Stack, credential: str, nth: int, timeout: float = 10.0) -> dict[str, Any]:
    """The `nth` (0-based, oldest first) access event of `credential`, once the hub has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [e for e in reversed(await s.events(door="B1-main")) if e["credential"] == credential]
        if len(mine) > nth:
            return mine[nth]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access event #{nth} for {credential} within {timeout}s")


async def present(s: Stack, text: str, credential: str, nth: int) -> dict[str, Any]:
    s.sim.present_qr(text)
    return await access_event(s, credential, nth)


async def test_resident_qr_granted_once_then_refused(stack: Stack) -> None:
    s = stack
    token = await resident_token(s)
    qr = await as_resident(s, token, "GET", "/me/qr")
    who = f"resident:{qr['resident_id']}"
    s.sim.present_qr(qr["token"])  # how fast: bench/pass_revocation.py (scan to relay)
    assert await asyncio.to_thread(s.sim.wait_relay, True, 10.0) is not None
    granted = await access_event(s, who, 0)
    assert (granted["credential_type"], granted["reason"]) == ("qr", "granted")
    assert granted["resident_id"] == qr["resident_id"]
    assert await asyncio.to_thread(s.sim.wait_relay, False, 10.0) is not None
    assert (await present(s, qr["token"], who, 1))["reason"] == "replayed"
    assert s.sim.relay is False

    # forged (another key), and a code from two minutes ago
    claims, signed, _ = decode_token(qr["token"])
    forged = encode_token(claims, Ed25519PrivateKey.generate().sign(signed))
    assert (await present(s, forged, who, 2))["reason"] == "bad_signature"
    assert s.hub.signer is not None
    old = s.hub.signer.resident_qr(qr["resident_id"], datetime.now(UTC) - timedelta(minutes=2))
    assert (await present(s, old.text, who, 3))["reason"] == "token_expired"
    assert s.sim.relay is False


async def check_visitor_passes(s: Stack) -> None:
    now = datetime.now(UTC)
    window = {"valid_from": (now - timedelta(minutes=1)).isoformat(),
              "valid_until": (now + timedelta(hours=2)).isoformat()}
    base = {"visitor_name": "王芳", "visitor_phone": "13900000000", "unit_id": 1, **window}
    async with s.hub.sessions() as session:
        zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
        assert zhang is not None and zhang.unit_id is not None
        base["unit_id"] = zhang.unit_id
    # issued by the resident for their own unit
    token = await resident_token(s)
    old_hash = s.agent.cache.hash
    issued = await as_resident(s, token, "POST", "/visitor-passes",
                               {**base, "doors": ["B1-main"], "max_uses": 2}, status=201)
    await s.wait_perm_change(old_hash, timeout=15.0)
    cred = f"pass:{issued['id']}"
    pulses = len(s.sim.relay_changes)
    first = await present(s, issued["token"], cred, 0)
    assert (first["credential_type"], first["reason"]) == ("visitor_pass", "granted")
    # the relay pulsed (it may be off again by the time the event reached the hub)
    assert (True in [on for _, on in s.sim.relay_changes[pulses:]]
            or await asyncio.to_thread(s.sim.wait_relay, True, 10.0) is not None)
    assert (await present(s, issued["token"], cred, 1))["reason"] == "granted"
    used_up = await present(s, issued["token"], cred, 2)
    assert (used_up["result"], used_up["reason"]) == ("denied", "pass_used_up")
    assert s.agent.ledger.pass_uses(issued["id"]) == 2  # counted at the edge, persisted
    deadline = time.monotonic() + 10
    while (await s.call("GET", f"/visitor-passes/{issued['id']}"))["uses"] != 2:
        assert time.monotonic() < deadline, "the hub never recorded the two uses"
        await asyncio.sleep(0.05)

    # a pass for another door; an expired pass
    old_hash = s.agent.cache.hash
    garage = await s.call("POST", "/visitor-passes", {**base, "doors": ["B1-garage"]}, status=201)
    await s.wait_perm_change(old_hash, timeout=15.0)
    assert (await present(s, garage["token"], f"pass:{garage['id']}", 0))["reason"] == "not_permitted"
    old_hash = s.agent.cache.hash
    expired = await s.call("POST", "/visitor-passes", {
        **base, "doors": ["B1-main"], "valid_from": (now - timedelta(hours=3)).isoformat(),
        "valid_until": (now - timedelta(hours=1)).isoformat()}, status=201)
    await s.wait_perm_change(old_hash, timeout=15.0)
    assert (await present(s, expired["token"], f"pass:{expired['id']}", 0))["reason"] == "pass_expired"

    # revoked through the API: refused at the door (in 2 s: the bench measures that)
    old_hash = s.agent.cache.hash
    live = await s.call("POST", "/visitor-passes", {**base, "doors": ["B1-main"]}, status=201)
    await s.wait_perm_change(old_hash, timeout=15.0)
    old_hash = s.agent.cache.hash
    await s.call("POST", f"/visitor-passes/{live['id']}/revoke")
    await s.wait_perm_change(old_hash, timeout=15.0)  # bench/pass_revocation.py times it
    pulses = len(s.sim.relay_changes)
    revoked = await present(s, live["token"], f"pass:{live['id']}", 0)
    assert revoked["reason"] == "pass_revoked"
    assert len(s.sim.relay_changes) == pulses  # the door stayed shut


async def test_visitor_pass_uses_and_refusals(stack: Stack) -> None:
    await check_visitor_passes(stack)


async def test_bluetooth_phone(stack: Stack) -> None:
    s = stack
    token = await resident_token(s)
    phone = PhoneSimulator()
    old_hash = s.agent.cache.hash
    await phone.register(s.api, token, "test phone")
    await s.wait_perm_change(old_hash, timeout=15.0)
    reader = BleReaderSimulator("B1-main", s.agent.ble_challenge, s.agent.ble_answer)
    cred = f"phone-key:{phone.key_id}"

    answer = phone.answer(reader.challenge())
    assert reader.submit(answer).reason == "granted"
    assert await asyncio.to_thread(s.sim.wait_relay, True, 10.0) is not None
    event = await access_event(s, cred, 0)
    assert (event["credential_type"], event["reason"]) == ("ble", "granted")
    assert reader.submit(answer).reason == "replayed"
    thief = PhoneSimulator()
    wrong = thief.answer(reader.challenge(), key_id=phone.key_id)
    assert reader.submit(wrong).reason == "bad_signature"
    never_asked = BleAnswer(key_id=phone.key_id or 1, nonce=b"\1" * 16, signature=b"\0" * 64)
    assert reader.submit(never_asked).reason == "stale_challenge"
    assert [e["reason"] for e in [await access_event(s, cred, n) for n in range(4)]] == [
        "granted", "replayed", "bad_signature", "stale_challenge"]

    # the resident revokes the phone: refused from the next snapshot
    old_hash = s.agent.cache.hash
    await as_resident(s, token, "POST", f"/me/phone-keys/{phone.key_id}/revoke")
    await s.wait_perm_change(old_hash, timeout=15.0)
    assert reader.approach(phone).reason == "revoked"
