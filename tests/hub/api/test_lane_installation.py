"""Vehicle lanes commissioned like doors (issue 17): installed on an edge through the API with
the camera's push credentials and the barrier output, compiled into that edge's signed
configuration, the secret kept only as its SHA-256 and never shown or audited; refusals name
their field and change nothing. SQLite and PostgreSQL (the fixtures' two params)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.installation import check_supported
from hub.audit import AuditEntry
from hub.installation.compile import edge_config
from hub.vehicles.models import Lane
from tests.hub.api.test_installation import (
    Client,
    RecordingConfigs,
    call,
    client,
    configs,
    edge_id,
    problem,
)

__all__ = ["client", "configs"]  # the fixtures, shared with the installation's tests
SECRET = "camera-pass-1"


async def test_a_lane_is_commissioned_into_its_edges_configuration(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        configs: RecordingConfigs) -> None:
    e = await edge_id(sessions, "edge-b1")
    gate_in = await call(client, auth, "POST", "/lanes", 201, {
        "edge_id": e, "name": "gate-in", "label": "东门入口", "direction": "entry",
        "camera_secret": SECRET})
    gate_out = await call(client, auth, "POST", "/lanes", 201, {
        "edge_id": e, "name": "gate-out", "direction": "exit", "camera_user": "admin",
        "camera_secret": SECRET, "barrier": {"kind": "modbus_coil", "host": "10.0.0.20",
                                             "coil": 2, "up_input": 0}})
    assert gate_in["barrier"] == {"kind": "camera_relay", "comet_hold_s": 0.0}
    assert gate_out["barrier"]["coil"] == 2 and gate_out["barrier"]["pulse_s"] == 1.0
    assert "camera_secret" not in gate_in and SECRET not in str(gate_out)
    assert await call(client, auth, "GET", f"/lanes/{gate_in['id']}", 200) == gate_in
    listed = await call(client, auth, "GET", f"/lanes?edge_id={e}", 200)
    assert [x["name"] for x in listed["items"]] == ["gate-in", "gate-out"]

    async with sessions() as session:
        content = await edge_config(session, e)
    lanes = {lane.id: lane for lane in content.lanes}
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    assert lanes["gate-in"].camera_secret_sha256 == digest
    assert lanes["gate-in"].name == "东门入口" and lanes["gate-in"].direction == "entry"
    assert lanes["gate-out"].barrier.kind == "modbus_coil"
    assert lanes["gate-out"].camera_user == "admin"

    # a new secret: a new hash; a change without one keeps it
    await call(client, auth, "PATCH", f"/lanes/{gate_in['id']}", 200,
               {"camera_secret": "camera-pass-2"})
    held = await call(client, auth, "PATCH", f"/lanes/{gate_out['id']}", 422,
                      {"barrier": {"kind": "camera_relay", "comet_hold_s": 60}})
    assert "comet_hold_s" in str(held)  # longer than any camera's HTTP timeout: refused
    moved = await call(client, auth, "PATCH", f"/lanes/{gate_out['id']}", 200,
                       {"barrier": {"kind": "camera_relay", "comet_hold_s": 5}})
    assert moved["barrier"] == {"kind": "camera_relay", "comet_hold_s": 5.0}
    async with sessions() as session:
        rows = {r.name: r for r in await session.scalars(select(Lane))}
        trail = list(await session.scalars(
            select(AuditEntry).where(AuditEntry.resource == "lane").order_by(AuditEntry.id)))
    assert rows["gate-in"].camera_secret_sha256 == hashlib.sha256(b"camera-pass-2").hexdigest()
    assert rows["gate-out"].camera_secret_sha256 == digest
    assert all(c == ("sunrise", [e]) for c in configs.calls) and len(configs.calls) == 4
    assert [(a.action, a.name) for a in trail] == [
        ("create", "gate-in"), ("create", "gate-out"), ("update", "gate-in"),
        ("update", "gate-out")]
    assert trail[2].after == {"camera_secret": "(set)"}
    assert all(SECRET not in str(a.before) + str(a.after) for a in trail)

    # the edge cannot go while it drives lanes
    edge = await call(client, auth, "DELETE", f"/edges/{e}", 409)
    assert "lanes: gate-in, gate-out" in str(edge)
    await call(client, auth, "DELETE", f"/lanes/{gate_in['id']}", 204)
    await call(client, auth, "GET", f"/lanes/{gate_in['id']}", 404)
    async with sessions() as session:
        assert [lane.id for lane in (await edge_config(session, e)).lanes] == ["gate-out"]


REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"name": "gate-x", "direction": "entry"}, "camera_secret", "needs its camera's password"),
    ({"name": "gate-x", "direction": "entry", "camera_secret": "short"}, "camera_secret",
     "at least 8 characters"),
    ({"name": "gate-x", "direction": "sideways", "camera_secret": SECRET}, "direction",
     "entry"),
    ({"name": "gate-x", "direction": "entry", "camera_secret": SECRET,
      "barrier": {"kind": "modbus_coil", "host": "10.0.0.20", "coil": 70000}},
     "barrier.modbus_coil.coil", "less than or equal to 65535"),
    ({"name": "gate-x", "direction": "entry", "camera_secret": SECRET,
      "barrier": {"kind": "gpio"}}, "barrier", "kind"),
    ({"name": "taken", "direction": "exit", "camera_secret": SECRET}, "name",
     "already has a lane 'taken'"),
    ({"name": "B1-main", "direction": "exit", "camera_secret": SECRET}, "name",
     "already has a door 'B1-main'"),
]


async def test_each_lane_refusal_names_its_field_and_changes_nothing(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    e = await edge_id(sessions, "edge-b1")
    await call(client, auth, "POST", "/lanes", 201, {
        "edge_id": e, "name": "taken", "direction": "entry", "camera_secret": SECRET})
    for body, field, words in REFUSALS:
        got = await call(client, auth, "POST", "/lanes", 422, {"edge_id": e, **body})
        where, reason = problem(got)
        assert (where, words in reason) == (field, True), (body, got)
    async with sessions() as session:
        assert [r.name for r in await session.scalars(select(Lane))] == ["taken"]


async def test_a_barrier_shares_an_rs485_line_with_polled_devices(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    """A Modbus RTU barrier names a modbus line of the edge; its unit shares the bus with the
    polled devices and other barriers there at a unit id of its own (two units at one id on a
    line are refused, either way round). The edge's resolved configuration carries the line's
    port and settings, and the edge accepts it."""
    e = await edge_id(sessions, "edge-b1")
    for name, port, protocol in (("gate-485", "/dev/ttyUSB7", "modbus"),
                                 ("riser-485", "/dev/ttyUSB8", "modbus"),
                                 ("readers", "/dev/ttyUSB9", "osdp")):
        await call(client, auth, "POST", "/lines", 201, {
            "edge_id": e, "name": name, "port": port, "protocol": protocol,
            **({"baudrate": 19200} if name == "gate-485" else {})})
    lines = {x["name"]: x["id"] for x in
             (await call(client, auth, "GET", f"/lines?edge_id={e}", 200))["items"]}
    fire = await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "fire", "model": "fire-panel-8z", "transport": "rtu",
        "line_id": lines["riser-485"]})
    taken = fire["unit_id"]
    rtu = {"kind": "modbus_coil", "transport": "rtu", "unit_id": 2, "coil": 1}
    for line, unit, words in (("nowhere", 2, "no line"), ("readers", 2, "speaks osdp"),
                              ("riser-485", taken, f"already has device fire at unit id {taken}"),
                              (None, 2, "needs its line")):
        got = await call(client, auth, "POST", "/lanes", 422, {
            "edge_id": e, "name": "gate-out", "direction": "exit", "camera_secret": SECRET,
            "barrier": {**rtu, "line": line, "unit_id": unit}})
        where, reason = problem(got)
        assert where.startswith("barrier") and words in reason, got
    free = 9 if taken != 9 else 10
    lane = await call(client, auth, "POST", "/lanes", 201, {
        "edge_id": e, "name": "gate-out", "direction": "exit", "camera_secret": SECRET,
        "barrier": {**rtu, "line": "riser-485", "unit_id": free}})
    assert (lane["barrier"]["transport"], lane["barrier"]["line"]) == ("rtu", "riser-485")
    # the barrier's unit id is its own on the line: no device takes it, nor a second barrier
    refused = await call(client, auth, "POST", "/devices", 422, {
        "edge_id": e, "name": "fire2", "model": "fire-panel-8z", "transport": "rtu",
        "line_id": lines["riser-485"], "unit_id": free})
    assert problem(refused)[0] == "unit_id" and "barrier" in problem(refused)[1], refused
    again = await call(client, auth, "POST", "/lanes", 422, {
        "edge_id": e, "name": "gate-out-2", "direction": "exit", "camera_secret": SECRET,
        "barrier": {**rtu, "line": "riser-485", "unit_id": free}})
    assert problem(again)[0] == "barrier.unit_id"
    assert "lane gate-out" in problem(again)[1]
    # at other unit ids both join the bus
    await call(client, auth, "POST", "/devices", 201, {
        "edge_id": e, "name": "fire2", "model": "fire-panel-8z", "transport": "rtu",
        "line_id": lines["riser-485"], "unit_id": free + 1})
    await call(client, auth, "POST", "/lanes", 201, {
        "edge_id": e, "name": "gate-out-2", "direction": "exit", "camera_secret": SECRET,
        "barrier": {**rtu, "line": "gate-485", "unit_id": 2}})
    async with sessions() as session:
        content = (await edge_config(session, e)).resolved()
    assert check_supported(content, ports=False) is None  # the edge runs it as it is
    barrier = next(x for x in content.lanes if x.id == "gate-out").barrier
    assert (barrier.port, barrier.unit_id) == ("/dev/ttyUSB8", free)  # type: ignore[union-attr]
    barrier = next(x for x in content.lanes if x.id == "gate-out-2").barrier
    assert (barrier.port, barrier.baudrate, barrier.unit_id) == (  # type: ignore[union-attr]
        "/dev/ttyUSB7", 19200, 2)
