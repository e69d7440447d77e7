"""Unit alarm panels commissioned on the demo building through the hub's installation API, as
an installer would: a Modbus line on the edge, a device per panel, each tied to its unit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy import delete, select, update

from hub.models import Door, Edge, Line, Unit
from hub.seed import DEMO_GUARD, DEMO_RESIDENT, DEMO_TECHNICIAN, seed_demo_logins
from hub.service import Hub
from tests.support.building import Building

PASSWORDS = {DEMO_RESIDENT: "zhang-pass-1", DEMO_GUARD: "wang-pass-1",
             DEMO_TECHNICIAN: "li-pass-1"}


async def prepare_home(hub: Hub) -> None:
    """The demo's logins; the demo's reader lines (ports of a real building, absent here)
    leave the hub's installation, so the edge takes the configuration with the panels."""
    await seed_demo_logins(hub.sessions, PASSWORDS)
    async with hub.sessions() as session, session.begin():
        await session.execute(update(Door).values(line_id=None, reader_address=None))
        await session.execute(delete(Line))


async def commission_panels(b: Building, port: str, panels: Sequence[tuple[str, str, int]],
                            *, exit_s: float, entry_s: float, poll_s: float) -> None:
    """`panels`: (device name, unit number, Modbus unit id), all on one RS-485 line at
    `port`; a unit missing from the demo is added (floor 1). Returns once the edge polls each."""
    async with b.hub.sessions() as session:
        edge = await session.scalar(select(Edge).where(Edge.name == "b1-edge"))
        units = {u.number: u for u in await session.scalars(select(Unit))}
    assert edge is not None
    building = units["101"].building_id
    line = await b.call("POST", "/lines", {
        "edge_id": edge.id, "name": "riser-1", "port": port, "protocol": "modbus",
        "baudrate": 9600, "parity": "N"}, status=201)
    for device, number, unit_id in panels:
        unit = units[number].id if number in units else (await b.call(
            "POST", "/units", {"building_id": building, "number": number, "floor": 1},
            status=201))["id"]
        created = await b.call("POST", "/devices", {
            "edge_id": edge.id, "name": device, "label": f"{number} 报警主机",
            "model": "alarm-panel-8z", "transport": "rtu", "line_id": line["id"],
            "unit_id": unit_id, "poll_interval_s": poll_s}, status=201)
        await b.call("POST", "/security-panels", {
            "device_id": created["id"], "unit_id": unit, "exit_delay_s": exit_s,
            "entry_delay_s": entry_s}, status=201)
    homesec = b.agent.homesec
    deadline = time.monotonic() + 30
    # the panel's settings (its unit, its delays) may come in a configuration of their own,
    # after the device's: polled with them, not with the device's alone
    while not all(d in homesec.units and homesec.units[d].polled
                  and homesec.units[d].settings.unit == number for d, number, _ in panels):
        assert time.monotonic() < deadline, "the edge never polled every commissioned panel"
        await asyncio.sleep(0.05)
