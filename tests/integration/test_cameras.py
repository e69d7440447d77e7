"""Cameras end to end on real parts: MJPEG streams rendered by the camera simulator, read
by the edge agent with OpenCV; QR codes at the gate decided like any reader's, motion alerts
with snapshots uploaded to the hub over HTTP, tamper faults; Mosquitto and SQLite.

The gate camera reads for door B1-main (whose OSDP reader and relay are simulated too); the
lobby camera watches an always-armed zone and uploads its snapshots with the edge's token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
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
from simulators.camera_scene import MjpegServer, Step
from tests.support.building import ADMIN_PASSWORD, Building, broker, demo_building
from tests.support.live import live_socket
from tests.support.qr import early_in_a_qr_period
from tests.support.waiting import until
from wire.tokens import decode_token, encode_token

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]
WHOLE = [[0, 0], [1, 0], [1, 1], [0, 1]]
PASSWORD = "camera test password"
IDLE = [Step("idle", 10)]


@contextlib.asynccontextmanager
async def cameras_building(tmp_path: Path) -> AsyncIterator[tuple[Building, MjpegServer, MjpegServer]]:
    async with broker("mosquitto") as mqtt_port, MjpegServer(IDLE, fps=15) as gate, \
            MjpegServer(IDLE, fps=15) as lobby:

        async def users(hub: Hub) -> None:
            async with hub.sessions() as session, session.begin():
                for role in ("guard", "technician"):
                    await create_user(session, role, PASSWORD, role, "demo")
                # 张伟's app login: a resident with a login can show a QR code
                zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
                assert zhang is not None
                user = await create_user(session, "resident", PASSWORD, "resident", "demo")
                session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))

        async def cameras(hub: Hub) -> dict[str, Any]:
            # the admin provisions the edge's upload token through the API
            async with aiohttp.ClientSession() as http:
                api = f"{hub.url}/api/v1"
                async with http.post(f"{api}/auth/login", json={
                        "username": "admin", "password": ADMIN_PASSWORD}) as resp:
                    headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
                async with http.get(f"{api}/edges", headers=headers) as resp:
                    edge_id = (await resp.json())["items"][0]["id"]
                async with http.post(f"{api}/edges/{edge_id}/upload-token",
                                     headers=headers) as resp:
                    assert resp.status == 201
                    token = (await resp.json())["token"]
            return {
                "cameras": [
                    {"id": "cam-gate", "source": gate.url, "door": "B1-main", "qr_gone_s": 0.4,
                     "backoff_min_s": 0.2, "backoff_max_s": 1, "tamper": {"enabled": False}},
                    {"id": "cam-lobby", "source": lobby.url, "backoff_min_s": 0.2,
                     "backoff_max_s": 1, "health_every_s": 1,
                     "zones": [{"name": "lobby", "polygon": WHOLE, "cooldown_s": 2}]},
                ],
                "uploads": {"url": hub.url, "token": token, "backoff_min_s": 0.2,
                            "backoff_max_s": 1},
            }

        async with demo_building(
            tmp_path, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
            unlock_s=0.5, publish_debounce_s=0.05, prepare=users, edge_extra=cameras,
            ready=lambda agent: bool(agent.cache.state and agent.cache.state.hub_public_key),
        ) as building:
            yield building, gate, lobby


async def show_code(s: Building, gate: MjpegServer, text: str, credential: str,
                    nth: int) -> dict[str, Any]:
    """Hold the code up to the gate camera until its access event reaches the hub (a busy
    machine may analyse only some frames), then take it away; that event."""
    await gate.show([Step("qr", 150, text=text), *IDLE])

    async def event() -> dict[str, Any] | None:
        mine = [e for e in reversed(await s.events(door="B1-main"))
                if e["credential"] == credential]
        return mine[nth] if len(mine) > nth else None

    found = await until(event, f"access event #{nth} of {credential}", timeout=20)
    await gate.show(IDLE)
    await asyncio.sleep(0.6)  # out of view long enough to count as gone
    return found


async def test_qr_codes_at_the_gate_camera_go_through_the_door_decision(tmp_path: Path) -> None:
    async with cameras_building(tmp_path) as (s, gate, _lobby):
        assert s.hub.signer is not None
        signer = s.hub.signer
        async with s.hub.sessions() as session:
            zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
            assert zhang is not None and zhang.unit_id is not None
        who = f"resident:{zhang.id}"
        await early_in_a_qr_period()  # shown twice below: granted, then replayed
        qr = signer.resident_qr(zhang.id)

        granted = await show_code(s, gate, qr.text, who, 0)
        assert (granted["credential_type"], granted["result"]) == ("qr", "granted")
        assert [on for _, on in s.sim.relay_changes[:2]] == [True, False]  # pulsed, relocked
        # a second in view (15 frames) made one decision, not fifteen
        assert len([e for e in await s.events(door="B1-main") if e["credential"] == who]) == 1
        assert (await show_code(s, gate, qr.text, who, 1))["reason"] == "replayed"
        pulses = len(s.sim.relay_changes)

        claims, signed, _ = decode_token(qr.text)
        forged = encode_token(claims, Ed25519PrivateKey.generate().sign(signed))
        assert (await show_code(s, gate, forged, who, 2))["reason"] == "bad_signature"
        old = signer.resident_qr(zhang.id, datetime.now(UTC) - timedelta(minutes=2))
        assert (await show_code(s, gate, old.text, who, 3))["reason"] == "token_expired"
        now = datetime.now(UTC)
        early = signer.sign("resident_qr", zhang.id, now + timedelta(minutes=5),
                            now + timedelta(minutes=6))
        assert (await show_code(s, gate, early.text, who, 4))["reason"] == "token_not_yet_valid"
        malformed = await show_code(s, gate, "https://example.com/not-a-pass", "malformed", 0)
        assert malformed["reason"] == "malformed_token"

        # visitor passes
        window = {"valid_from": (now - timedelta(minutes=1)).isoformat(),
                  "valid_until": (now + timedelta(hours=2)).isoformat()}
        base = {"visitor_name": "王芳", "visitor_phone": "13900000000",
                "unit_id": zhang.unit_id, "doors": ["B1-main"], **window}
        old_hash = s.agent.cache.hash
        one_use = await s.call("POST", "/visitor-passes", {**base, "max_uses": 1}, status=201)
        live = await s.call("POST", "/visitor-passes", base, status=201)
        await s.wait_perm_change(old_hash, timeout=15.0)
        cred = f"pass:{one_use['id']}"
        assert (await show_code(s, gate, one_use["token"], cred, 0))["reason"] == "granted"
        assert (await show_code(s, gate, one_use["token"], cred, 1))["reason"] == "pass_used_up"
        old_hash = s.agent.cache.hash
        await s.call("POST", f"/visitor-passes/{live['id']}/revoke")
        await s.wait_perm_change(old_hash, timeout=15.0)
        revoked = await show_code(s, gate, live["token"], f"pass:{live['id']}", 0)
        assert revoked["reason"] == "pass_revoked"
        unknown = signer.visitor_pass(999_999, now - timedelta(minutes=1), now + timedelta(hours=1))
        assert (await show_code(s, gate, unknown.text, "pass:999999", 0))["reason"] == "unknown_pass"
        expired = signer.visitor_pass(one_use["id"], now - timedelta(hours=3),
                                      now - timedelta(hours=1))
        assert (await show_code(s, gate, expired.text, cred, 2))["reason"] == "pass_expired"
        later = signer.visitor_pass(one_use["id"], now + timedelta(hours=1),
                                    now + timedelta(hours=2))
        assert (await show_code(s, gate, later.text, cred, 3))["reason"] == "not_yet_valid"
        claims, signed, _ = decode_token(live["token"])
        fake = encode_token(claims, Ed25519PrivateKey.generate().sign(signed))
        assert (await show_code(s, gate, fake, f"pass:{live['id']}", 1))["reason"] == \
            "bad_signature"
        assert len(s.sim.relay_changes) == pulses + 2  # only the pass's one grant opened


async def login(s: Building, username: str, password: str) -> dict[str, str]:
    reply = await s.call("POST", "/auth/login", {"username": username, "password": password})
    return {"Authorization": f"Bearer {reply['token']}"}


async def test_motion_alert_with_snapshot_and_tamper_fault_reach_the_hub(tmp_path: Path) -> None:
    async with cameras_building(tmp_path) as (s, _gate, lobby), aiohttp.ClientSession() as http:
        guard = (await login(s, "guard", PASSWORD))["Authorization"].split()[1]
        async with live_socket(http, s.hub.url, ["camera"], token=guard) as feed:
            await lobby.show([Step("walk", 30), *IDLE])
            pushed = await feed.next("camera", timeout=20, camera="cam-lobby")
        assert (pushed["event"], pushed["zone"]) == ("motion", "lobby") and pushed["snapshot_id"]
        technician = (await login(s, "technician", PASSWORD))["Authorization"].split()[1]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with live_socket(http, s.hub.url, ["camera"], token=technician):
                pass
        assert refused.value.status == 403

        async def alert_with_snapshot() -> dict[str, Any] | None:
            page = await s.call("GET", "/camera-alerts?camera=cam-lobby")
            # the alert pushed live; a loaded machine may have raised a second one since
            ready = [a for a in page["items"] if a["snapshot_available"]
                     and a["snapshot_id"] == pushed["snapshot_id"]]
            return ready[0] if ready else None

        alert = await until(alert_with_snapshot,
                            "the pushed lobby alert with its snapshot",
                            timeout=20)
        assert (alert["event"], alert["zone"]) == ("motion", "lobby")
        await lobby.show(IDLE)
        assert (alert["event"], alert["zone"], alert["edge"]) == ("motion", "lobby", "b1-edge")
        assert alert["snapshot_url"] == f"/api/v1/snapshots/{alert['snapshot_id']}"
        assert alert["clip_id"] is not None

        # the snapshot, by role: the security desk yes; technicians and residents no
        url = f"{s.hub.url}{alert['snapshot_url']}"
        for role, status in (("guard", 200), ("technician", 403), ("resident", 403)):
            headers = await login(s, role, PASSWORD)
            async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
                body = await resp.read()
                assert resp.status == status, (role, resp.status, body[:200])
                if status == 200:
                    assert resp.content_type == "image/jpeg" and body[:3] == b"\xff\xd8\xff"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 401
        await until(lambda: s.call("GET", "/camera-alerts?camera=cam-lobby"), "list", timeout=5)
        clip = await until(alert_with_clip(s, alert["id"]), "the clip", timeout=20)
        async with s.http.get(f"{s.hub.url}{clip['clip_url']}") as resp:
            assert resp.status == 200 and resp.content_type == "video/mp4"
            assert b"ftyp" in (await resp.read())[:12]

        # a covered lens: a device fault at the hub (what the rules turn into a work order)
        walked = len((await s.call("GET", "/camera-alerts?camera=cam-lobby"))["items"])
        await lobby.show([Step("cover", 30)])

        async def camera_fault() -> dict[str, Any] | None:
            devices = await s.call("GET", "/devices?type=camera")
            cam = [d for d in devices["items"] if d["name"] == "cam-lobby"]
            if not cam or not cam[0]["open_faults"]:
                return None
            return await s.call("GET", f"/devices/{cam[0]['id']}")

        detail = await until(camera_fault, "the covered-lens fault", timeout=20)
        assert [f["code"] for f in detail["faults"]] == ["camera_covered"]
        assert detail["status"] == "online" and detail["counters"]["frames"] > 0
        await lobby.show(IDLE)

        async def cleared() -> bool:
            faults = await s.call("GET", f"/devices/{detail['id']}/faults")
            return bool(faults["items"]) and not any(f["open"] for f in faults["items"])

        await until(cleared, "the fault cleared once the view is back", timeout=20)
        # the covering and uncovering raised no motion alert (the walk may have raised two on a
        # loaded machine, as above)
        page = await s.call("GET", "/camera-alerts?camera=cam-lobby")
        assert len(page["items"]) == walked


def alert_with_clip(s: Building, alert_id: str) -> Callable[[], Awaitable[Any]]:
    async def check() -> dict[str, Any] | None:
        alert = await s.call("GET", f"/camera-alerts/{alert_id}")
        return alert if alert["clip_available"] else None
    return check
