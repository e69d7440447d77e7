"""A guard's open of a lane whose barrier is the camera's own relay: answered on the camera's
heartbeat (comet poll) over real HTTP, promptly, instead of waiting for the next plate push."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.outbox import Outbox
from edge.vehicles import LaneServer, VehicleLanes
from simulators.lpr_camera import PlateCamera
from wire.events import parse_event
from wire.vehicles import CameraRelayBarrier, LaneConfig, VehiclePermissions, VehicleSettings

SECRET = "lane-secret-1"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
HEARTBEAT_S = 1.0


def lane(hold_s: float, lane_id: str = "gate-in", direction: str = "entry") -> LaneConfig:
    return LaneConfig(id=lane_id, direction=direction,  # type: ignore[arg-type]
                      camera_secret_sha256=DIGEST,
                      barrier=CameraRelayBarrier(comet_hold_s=hold_s))


class Edge:
    def __init__(self, server: LaneServer, vehicles: VehicleLanes, outbox: Outbox) -> None:
        self.server, self.vehicles, self.outbox = server, vehicles, outbox

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def events(self) -> list[dict[str, object]]:
        out = []
        for msg in self.outbox.pending(limit=1000):
            event = parse_event(msg.payload)
            out.append({"kind": event.kind, **json.loads(event.data.model_dump_json())})
        return out


@pytest.fixture
async def edge(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Edge]:
    hold_s = getattr(request, "param", 10.0)
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    vehicles = VehicleLanes(outbox.add_event)
    vehicles.apply(VehiclePermissions(settings=VehicleSettings(temporary_entry="guard")))
    lanes = [lane(hold_s), lane(hold_s, "gate-out", "exit")]
    await vehicles.set_lanes(lanes)
    async with LaneServer(lanes, vehicles.on_reading, vehicles.on_refused, host="127.0.0.1",
                          port=0, on_heartbeat=vehicles.on_heartbeat) as server:
        yield Edge(server, vehicles, outbox)
        await vehicles.close()
    outbox.close()


async def _latencies(edge: Edge, opens: int, gap_s: float) -> list[float]:
    """Guard opens at random moments at least `gap_s` apart; seconds from each to the
    camera's relay pulse."""
    got = []
    async with PlateCamera(edge.url, "gate-in", secret=SECRET,
                           heartbeat_s=HEARTBEAT_S) as camera:
        await asyncio.sleep(0.3)  # the first heartbeat is under way
        for _ in range(opens):
            await asyncio.sleep(gap_s + random.uniform(0, HEARTBEAT_S))
            pulse = asyncio.ensure_future(camera.next_pulse(timeout_s=HEARTBEAT_S + 5))
            await asyncio.sleep(0)
            start = time.monotonic()
            done, _how = edge.vehicles.guard_open("gate-in", None, "visitor at the gate",
                                                  "guard1")
            assert done
            got.append(await pulse - start)
        assert camera.failures == 0
    return got


@pytest.mark.parametrize("edge", [10.0], indirect=True)
async def test_held_heartbeat_opens_within_milliseconds(edge: Edge) -> None:
    # a guard's opens are seconds apart, the camera back in a held heartbeat by then
    latencies = await _latencies(edge, 6, HEARTBEAT_S + 0.3)
    print(f"comet hold 10 s, heartbeat every {HEARTBEAT_S} s: manual open -> relay "
          f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    # the figure is bench/lane_guard_open.py's; here: answered at once, not at the next
    # heartbeat (a second away), with room for a loaded machine
    assert statistics.median(latencies) < 0.2 and max(latencies) < HEARTBEAT_S / 2


@pytest.mark.parametrize("edge", [0.0], indirect=True)
async def test_unheld_heartbeat_opens_at_the_next_heartbeat(edge: Edge) -> None:
    latencies = await _latencies(edge, 4, 0)
    print(f"no hold, heartbeat every {HEARTBEAT_S} s: manual open -> relay "
          f"max {max(latencies) * 1000:.1f} ms")
    assert max(latencies) < HEARTBEAT_S + 0.5


async def test_the_car_named_is_recorded_when_the_heartbeat_raises_the_barrier(
        edge: Edge) -> None:
    async with PlateCamera(edge.url, "gate-in", secret=SECRET, heartbeat_s=0.2) as camera:
        await asyncio.sleep(0.3)
        edge.vehicles.guard_open("gate-in", "粤B 77777", "delivery", "guard1")
        await camera.next_pulse(timeout_s=15)
        assert len(camera.pulses) == 1
        await asyncio.sleep(0.5)  # later heartbeats answer no: one open, one pulse
        assert len(camera.pulses) == 1
    assert [(e["kind"], e.get("event") or e.get("reason")) for e in edge.events()] == [
        ("lane", "guard_open"), ("vehicle", "guard_open")]
    assert edge.events()[1]["plate"] == "粤B77777"
    assert "粤B77777" in edge.vehicles.decider.inside


def _post(url: str, body: bytes, auth: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Basic {auth}"} if auth else {}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("edge", [0.0], indirect=True)
async def test_heartbeat_refusals(edge: Edge) -> None:
    url = f"{edge.url}/lpr/gate-in/heartbeat"
    good = base64.b64encode(f"camera:{SECRET}".encode()).decode()
    bad = base64.b64encode(b"camera:guess").decode()
    assert (await asyncio.to_thread(_post, url, b"{}", bad))[0] == 401
    status, doc = await asyncio.to_thread(_post, url, b"not json", good)
    assert status == 400 and "heartbeat body is not JSON" in str(doc["error"])
    edge.vehicles.guard_open("gate-in", None, "test", "guard1")
    # a refused heartbeat took nothing: the next good one carries the open
    assert await asyncio.to_thread(_post, url, b"", good) == (
        200, {"Response_Heartbeat": {"info": "ok"}})
    assert await asyncio.to_thread(_post, url, b"", good) == (
        200, {"Response_Heartbeat": {"info": "no"}})
