"""The patrol API on SQLite and PostgreSQL: a manager defines checkpoints and a route, a
guard enrols the phone key, starts a round and syncs an offline queue (resent: nothing
doubled); a forged reading is refused with 403 and an alarm; guards see only their rounds;
the `lintel sim patrol` walker with a skipped checkpoint, its alarm at the deadline."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_user
from hub.patrol.proof import display_code, reading_bytes, step_of
from hub.patrol.sweep import PatrolSweep
from hub.rules.clock import ManualClock
from hub.rules.models import Alarm
from simulators.patrol import walk
from tests.hub.api.conftest import PASSWORD


async def login(client: TestClient[Any, Any], who: str) -> dict[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_route_round_offline_sync_and_forgery(
        client: TestClient[Any, Any], sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await create_user(session, "lee", PASSWORD, "manager", site_id="sunrise")
        await create_user(session, "wang", PASSWORD, "guard", site_id="sunrise")
    lee, wang = await login(client, "lee"), await login(client, "wang")
    secrets = {}
    for n in (1, 2):
        resp = await client.post("/api/v1/patrol/checkpoints", headers=lee, json={
            "site_id": "sunrise", "code": f"CP{n}", "name": f"Gate {n}", "name_zh": f"{n}号门"})
        assert resp.status == 201, await resp.text()
        secrets[f"CP{n}"] = (await resp.json())["secret"]
    resp = await client.post("/api/v1/patrol/routes", headers=lee, json={
        "site_id": "sunrise", "code": "night-a", "name": "Night A",
        "stops": [{"checkpoint": "CP1", "allowance_s": 600},
                  {"checkpoint": "CP9", "allowance_s": 600}]})
    assert resp.status == 422 and "stops.1.checkpoint" in await resp.text()
    resp = await client.post("/api/v1/patrol/routes", headers=lee, json={
        "site_id": "sunrise", "code": "night-a", "name": "Night A", "every_min": 120,
        "from_hour": 22, "to_hour": 6,
        "stops": [{"checkpoint": "CP1", "allowance_s": 600},
                  {"checkpoint": "CP2", "allowance_s": 600}]})
    assert resp.status == 201, await resp.text()
    assert (await client.post("/api/v1/patrol/routes", headers=wang, json={
        "site_id": "sunrise", "code": "x", "name": "x",
        "stops": [{"checkpoint": "CP1", "allowance_s": 600}]})).status == 403
    phone = Ed25519PrivateKey.generate()
    key = base64.b64encode(phone.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    resp = await client.post("/api/v1/patrol/keys", headers=wang,
                             json={"public_key": key.decode()})
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/v1/patrol/rounds", headers=wang,
                             json={"site_id": "sunrise", "route": "night-a"})
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["id"]
    start = datetime.now(UTC)

    def reading(cp: str, ts: datetime, signer: Ed25519PrivateKey = phone) -> dict[str, Any]:
        code = display_code(secrets[cp], "sunrise", cp, step_of(ts))
        rid_ = str(uuid.uuid4())
        sig = signer.sign(reading_bytes("sunrise", rid, cp, code, ts, rid_))
        return {"id": rid_, "checkpoint": cp, "ts": ts.isoformat(), "code": code,
                "signature": base64.b64encode(sig).decode()}

    queue = [reading("CP2", start + timedelta(seconds=2)), reading("CP1", start + timedelta(seconds=1))]
    for _ in range(2):  # sent when back online, then sent again: stored once
        resp = await client.post(f"/api/v1/patrol/rounds/{rid}/readings", headers=wang,
                                 json={"readings": queue})
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["state"] == "completed"
        assert [(r["position"], r["out_of_order"]) for r in body["readings"]] == [(1, False),
                                                                                  (2, False)]
    resp = await client.post("/api/v1/patrol/rounds", headers=wang,
                             json={"site_id": "sunrise", "route": "night-a"})
    rid = (await resp.json())["id"]
    forged = reading("CP1", datetime.now(UTC), signer=Ed25519PrivateKey.generate())
    resp = await client.post(f"/api/v1/patrol/rounds/{rid}/readings", headers=wang,
                             json={"readings": [forged]})
    assert resp.status == 403 and "signature" in await resp.text()
    async with sessions() as session:
        assert [a.type for a in await session.scalars(select(Alarm))] == [
            "patrol_reading_refused"]
    resp = await client.get("/api/v1/patrol/rounds", headers=lee)
    assert len((await resp.json())["items"]) == 2
    assert (await (await client.get(f"/api/v1/patrol/rounds/{rid}", headers=wang)).json()
            )["readings"] == []


async def test_sim_patrol_walks_a_round_and_the_skipped_checkpoint_alarms_at_the_deadline(
        client: TestClient[Any, Any], sessions: async_sessionmaker[AsyncSession],
        tmp_path: Path) -> None:
    async with sessions() as session, session.begin():
        await create_user(session, "lee", PASSWORD, "manager", site_id="sunrise")
        await create_user(session, "wang", PASSWORD, "guard", site_id="sunrise")
    lee = await login(client, "lee")
    secrets = {}
    for n in (1, 2, 3):
        resp = await client.post("/api/v1/patrol/checkpoints", headers=lee, json={
            "site_id": "sunrise", "code": f"CP{n}", "name": f"Gate {n}"})
        secrets[f"CP{n}"] = (await resp.json())["secret"]
    assert (await client.post("/api/v1/patrol/routes", headers=lee, json={
        "site_id": "sunrise", "code": "night-a", "name": "Night A",
        "stops": [{"checkpoint": f"CP{n}", "allowance_s": 300} for n in (1, 2, 3)]})).status == 201
    hub = str(client.make_url("")).rstrip("/")
    key = tmp_path / "phone.key"
    done = await walk(hub, "sunrise", "wang", PASSWORD, "night-a", secrets, key)
    assert done["state"] == "completed" and len(done["readings"]) == 3
    # the second walk: same phone key (no new enrolment), offline, CP2 skipped
    walked = await walk(hub, "sunrise", "wang", PASSWORD, "night-a", secrets, key,
                        skip={"CP2"}, offline=True)
    assert walked["state"] == "open"
    assert [r["position"] for r in walked["readings"]] == [1, 3]
    deadline = datetime.fromisoformat(walked["deadline"])
    clock = ManualClock(deadline - timedelta(seconds=1))
    sweep = PatrolSweep(sessions, clock=clock)
    assert await sweep.run_once() == []
    clock.advance(1)
    assert len(await sweep.run_once()) == 1
    async with sessions() as session:
        alarm = await session.scalar(select(Alarm).where(Alarm.type == "patrol_missed"))
        assert alarm is not None and alarm.dedup_key == f"patrol:{walked['id']}:2:missed"
        assert "CP2" in (alarm.message or "")
    # the supervisor's report: one round of two completed, one checkpoint missed
    resp = await client.get("/api/v1/patrol/report?site_id=sunrise", headers=lee)
    assert resp.status == 200, await resp.text()
    (row,) = (await resp.json())["items"]
    assert (row["route"], row["guard"], row["rounds"], row["completed"], row["incomplete"],
            row["completion_rate"], row["missed"]) == ("night-a", "wang", 2, 1, 1, 0.5, 1)
    resp = await client.get("/api/v1/patrol/report?format=csv", headers=lee)
    lines = (await resp.text()).splitlines()
    assert lines[0].startswith("site_id,route,guard,rounds,completed") and len(lines) == 2
    resp = await client.get("/api/v1/patrol/exceptions?site_id=sunrise", headers=lee)
    assert resp.status == 200, await resp.text()
    assert [(x["round"], x["route"], x["guard"], x["kind"], x["checkpoint"])
            for x in (await resp.json())["items"]] == [
        (walked["id"], "night-a", "wang", "missed", "CP2")]
