"""Configuration push: an edge with 64 doors and 32 Modbus devices, one door changed at a time,
from the hub's compile to the door working.

Real hub (in this process, SQLite) + Mosquitto + the edge agent, 64 libosdp readers on 4
multi-drop RS-485 lines (16 each, one pty per line) and 32 pymodbus units on 2 RTU lines (16
each). Each change gives one door another unlock time: the configuration is compiled (the whole
installation validated into wire.config, as the registry's compiler ends), versioned, signed and
published retained (hub.edgeconfig), verified, checked and applied by the edge (the door rebuilt,
the 63 others and the 32 devices untouched), and the clock stops when that door's exit button
opens its lock relay at the simulator. `--rekey` changes a reader's key instead: its whole line
(16 readers) is reopened and the secure channel set up again, the worst case of a change.

    .venv/bin/python bench/config_push.py [--changes 20] [--rekey]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from harness.report import report
from harness.services import MosquittoServer, free_port
from harness.stats import summarize
from hub.credentials.keys import seed_b64
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import ModbusLineSimulator
from simulators.osdp_door import OsdpDoorSimulator
from simulators.osdp_line import OsdpLine
from wire import ConfigContent

SITE, EDGE = "demo", "b1-edge"
READER_LINES, READERS_PER_LINE = 4, 16
MODBUS_LINES, UNITS_PER_LINE = 2, 16
PTY = SerialSettings(baudrate=9600, parity="N")  # ptys take no parity


def installation(doors: list[OsdpDoorSimulator], lines: list[OsdpLine],
                 modbus: list[ModbusLineSimulator], unlock: dict[int, float],
                 keys: dict[int, bytes]) -> dict[str, Any]:
    """The installation as the registry would hand it to the compiler (plain data)."""
    raw_lines: list[dict[str, Any]] = [
        {"id": f"osdp{i}", "port": line.port, "protocol": "osdp"} for i, line in enumerate(lines)]
    raw_lines += [{"id": f"mb{i}", "port": line.port, "protocol": "modbus", "baudrate": 9600,
                   "parity": "N"} for i, line in enumerate(modbus)]
    raw_doors = [{"id": f"D{n:02d}", "name": f"door {n}", "unlock_s": unlock.get(n, 1.0),
                  "reader": {"line": f"osdp{n // READERS_PER_LINE}", "address": sim.address,
                             "scbk": keys[n].hex()}}
                 for n, sim in enumerate(doors)]
    raw_devices = [{"id": f"{sim.name}", "model": sim.model.model, "transport": "rtu",
                    "line": f"mb{i}", "unit_id": sim.unit_id, "poll_interval_s": 1.0}
                   for i, line in enumerate(modbus) for sim in line.units.values()]
    return {"site": SITE, "edge": EDGE, "lines": raw_lines, "doors": raw_doors,
            "devices": raw_devices}


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def run(changes: int, rekey: bool) -> None:
    models = load_models()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as sync_stack:
        broker = MosquittoServer()
        broker.start()
        sync_stack.callback(broker.cleanup)
        settings = HubSettings(
            database_url=f"sqlite+aiosqlite:///{tmp}/hub.db", mqtt_host="127.0.0.1",
            mqtt_port=broker.port, mqtt_username="hub", mqtt_client_id="hub-bench",
            mqtt_shared_group="hub", http_host="127.0.0.1", http_port=free_port(),
            admin_username="admin", admin_password=SecretStr("bench password 1234"),
            data_dir=Path(tmp) / "hub",
            signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate())))
        async with contextlib.AsyncExitStack() as stack:
            hub = await stack.enter_async_context(Hub(settings))
            await seed_demo(hub.sessions)
            lines = [OsdpLine() for _ in range(READER_LINES)]
            for line in lines:
                sync_stack.callback(line.close)
            keys = {n: secrets.token_bytes(16) for n in range(READER_LINES * READERS_PER_LINE)}
            doors = []
            for n in range(READER_LINES * READERS_PER_LINE):
                sim = OsdpDoorSimulator(address=n % READERS_PER_LINE + 1, scbk=keys[n],
                                        name=f"D{n:02d}", line=lines[n // READERS_PER_LINE])
                sim.start()
                sync_stack.callback(sim.close)
                doors.append(sim)
            modbus = []
            for i in range(MODBUS_LINES):
                model = models["pressure-sprinkler-pt" if i == 0 else "fire-panel-8z"]
                units = [ModbusDeviceSimulator(model, name=f"m{i}u{u}", unit_id=u, serial=PTY)
                         for u in range(1, UNITS_PER_LINE + 1)]
                modbus.append(await stack.enter_async_context(
                    ModbusLineSimulator(units, transport="rtu", serial=PTY)))
            edge = EdgeConfig.model_validate({
                "site": SITE, "edge": EDGE, "data_dir": f"{tmp}/edge",
                "mqtt": {"port": broker.port, "username": EDGE, "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "hub_keys": hub.downlink.public_keys if hub.downlink else []})
            agent = await stack.enter_async_context(EdgeAgent(edge))
            unlock: dict[int, float] = {}

            async def push() -> tuple[int, float]:
                content = ConfigContent.model_validate(
                    installation(doors, lines, modbus, unlock, keys))
                compiled = time.perf_counter()
                async with hub.sessions() as session, session.begin():
                    result = await hub.edge_configs.publish(session, SITE, EDGE, content)
                return result.version, compiled

            started = time.perf_counter()
            version, _ = await push()
            await until(lambda: agent.configs.version == version, 60, "the first configuration")
            await until(lambda: all(d.online for d in doors), 120, "64 readers online")
            await until(lambda: all(d.link is not None and d.link.online
                                    for d in agent.devices.devices.values())
                        and len(agent.devices.devices) == 32, 60, "32 devices online")
            report("config push: first configuration (64 doors, 32 devices) to every reader "
                   "and device online", f"{time.perf_counter() - started:.1f} s")
            totals, applied, compile_s = [], [], []
            for i in range(changes):
                n = (i * 17) % len(doors)  # spread over the lines
                sim = doors[n]
                before = agent.doors[sim.name]
                t0 = time.perf_counter()
                if rekey:
                    keys[n] = secrets.token_bytes(16)
                    sim.swap(keys[n])  # the technician's new key, as the hub now sends it
                else:
                    unlock[n] = unlock.get(n, 1.0) + 0.5
                version, compiled = await push()
                await until(lambda v=version: agent.configs.version == v, 30, "the change")
                applied.append(time.perf_counter() - t0)
                compile_s.append(compiled - t0)
                await until(lambda s=sim: s.online, 30, "the changed door's reader online")
                door = agent.doors[sim.name]
                assert door is not before, "the changed door was not rebuilt"
                sim.press_exit()
                relay = await asyncio.to_thread(sim.wait_relay, True, 10.0)
                if relay is None:
                    raise TimeoutError(f"door {sim.name}: the exit button did not open it")
                totals.append(time.perf_counter() - t0)
                await asyncio.to_thread(sim.wait_relay, False, 10.0)
            what = "a reader re-keyed (its line of 16 reopened)" if rekey else \
                "a door's unlock time changed"
            report(f"config push, {what}: compile", summarize(compile_s, "ms", 1000).text())
            report(f"config push, {what}: compiled + published + applied at the edge",
                   summarize(applied, "ms", 1000).text())
            report(f"config push, {what}: to the door (exit button opens the relay)",
                   summarize(totals, "ms", 1000).text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--rekey", action="store_true",
                        help="re-key a reader per change (its line is reopened)")
    args = parser.parse_args()
    asyncio.run(run(args.changes, args.rekey))


if __name__ == "__main__":
    main()
