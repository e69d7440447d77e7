"""A lane over real HTTP with the edge's real outbox and no hub at all: the camera pushes,
the barrier answer comes back, every decision waits in the outbox as a `vehicle` event."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.cameras.spool import SnapshotSpool
from edge.outbox import Outbox
from edge.vehicles import LaneServer, VehicleLanes
from simulators.lpr import push_plate
from wire.events import parse_event
from wire.vehicles import (
    BlockedPlate,
    LaneConfig,
    ResidentVehicle,
    VehiclePass,
    VehiclePermissions,
    VehicleSettings,
)

SECRET = "lane-secret-1"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
LANES = [LaneConfig(id="gate-in", direction="entry", camera_secret_sha256=DIGEST),
         LaneConfig(id="gate-out", direction="exit", camera_secret_sha256=DIGEST)]
NOW = datetime.now(UTC)


class Lanes:
    def __init__(self, server: LaneServer, outbox: Outbox, spool: SnapshotSpool) -> None:
        self.server, self.outbox, self.spool = server, outbox, spool

    async def push(self, lane: str, plate: str, **kw: object) -> tuple[int, bool]:
        url = f"http://127.0.0.1:{self.server.port}/lpr/{lane}"
        kw.setdefault("secret", SECRET)
        got = await asyncio.to_thread(push_plate, url, plate, **kw)  # type: ignore[arg-type]
        return got.status, got.opened

    def events(self) -> list[dict[str, object]]:
        out = []
        for msg in self.outbox.pending(limit=1000):
            event = parse_event(msg.payload)
            out.append({"kind": event.kind, **json.loads(event.data.model_dump_json())})
        return out


@pytest.fixture
async def lanes(tmp_path: Path) -> AsyncIterator[Lanes]:
    outbox = Outbox(tmp_path / "outbox.db", site="s1", edge="gate")
    spool = SnapshotSpool(tmp_path / "snapshots.db", 10_000_000)
    vehicles = VehicleLanes(outbox.add_event, spool=spool)
    vehicles.apply(VehiclePermissions(
        residents=[ResidentVehicle(plate="粤B12345", household_id=7)],
        passes=[VehiclePass(id=4, plate="粤B66666", household_id=7,
                            valid_from=NOW - timedelta(hours=1),
                            valid_until=NOW + timedelta(hours=4), max_uses=1)],
        blocked=[BlockedPlate(plate="粤B99999", reason="stolen")],
        settings=VehicleSettings(temporary_entry="guard", min_confidence=0.85)))
    async with LaneServer(LANES, vehicles.on_reading, vehicles.on_refused,
                          host="127.0.0.1", port=0) as server:
        yield Lanes(server, outbox, spool)
    outbox.close()
    spool.close()


async def test_resident_visitor_blocked_and_misread_with_no_hub(lanes: Lanes) -> None:
    assert await lanes.push("gate-in", "粤B12345") == (200, True)
    assert await lanes.push("gate-in", "粤B66666") == (200, True)
    assert await lanes.push("gate-out", "粤B66666") == (200, True)
    assert await lanes.push("gate-in", "粤B66666") == (200, False)  # its one use is spent
    assert await lanes.push("gate-in", "粤B99999") == (200, False)
    assert await lanes.push("gate-in", "粤81234S", confidence=0.9) == (200, True)  # near miss
    events = lanes.events()
    assert [e["kind"] for e in events] == ["vehicle"] * 6
    assert [(e["result"], e["reason"]) for e in events] == [
        ("open", "resident"), ("open", "visitor_pass"), ("open", "visitor_pass"),
        ("held", "pass_used_up"), ("refused", "blocked"), ("open", "resident")]
    assert events[1]["pass_uses"] == 1 and events[4]["blocked_reason"] == "stolen"
    assert (events[5]["flag"], events[5]["matched_plate"]) == ("near_miss", "粤B12345")
    assert events[5]["warning"] == "anti_passback"  # 粤B12345 had not left
    assert all(e["snapshot_id"] for e in events) and len(lanes.spool) == 6


async def test_wrong_credentials_refused_and_reported(lanes: Lanes) -> None:
    assert (await lanes.push("gate-in", "粤B12345", secret="guess"))[0] == 401
    assert (await lanes.push("gate-in", "粤B12345", user="admin", secret=SECRET))[0] == 401
    events = lanes.events()
    assert [(e["kind"], e["event"]) for e in events] == [("agent", "camera_push_refused")]
    assert "gate-in" in str(events[0]["detail"])


async def test_garbled_push_is_400_and_decides_nothing(lanes: Lanes) -> None:
    import base64
    import urllib.error
    import urllib.request

    auth = base64.b64encode(f"camera:{SECRET}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{lanes.server.port}/lpr/gate-in", data=b'{"AlarmInfoPlate": 1}',
        method="POST", headers={"Authorization": f"Basic {auth}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        await asyncio.to_thread(urllib.request.urlopen, request, None, 5)
    assert caught.value.code == 400
    assert "result is missing" in json.loads(caught.value.read())["error"]
    assert lanes.events() == [] and lanes.server.malformed == 1


async def test_lintel_sim_plate_pushes_to_the_lane(lanes: Lanes,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from lintel.cli import main

    argv = ["sim", "plate", "--lane", "gate-in", "--plate", "粤B12345", "--secret", SECRET,
            "--edge", f"http://127.0.0.1:{lanes.server.port}"]
    assert await asyncio.to_thread(main, argv) == 0
    assert json.loads(capsys.readouterr().out)["barrier"] == "up (opened)"
    assert [e["reason"] for e in lanes.events()] == ["resident"]
