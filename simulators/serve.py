"""Run door simulators on their own (`lintel sim serve`), for an edge started by hand."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from simulators.control import create_control_app
from simulators.osdp_door import OsdpDoorSimulator


@dataclass(frozen=True)
class DoorSpec:
    name: str
    address: int
    scbk: bytes | None  # None: a factory reader in install mode (OSDP's SCBK-D)
    link: Path | None = None  # a stable path (the edge config's reader port) to the pty

    @classmethod
    def parse(cls, text: str) -> DoorSpec:
        """`NAME:ADDRESS:SCBK_HEX`, e.g. `B1-main:101:000102…0f`; `install` instead of the
        key: a reader from the factory, in install mode."""
        try:
            name, address, key = text.split(":")
            spec = cls(name, int(address), None if key == "install" else bytes.fromhex(key))
        except ValueError as exc:
            raise ValueError(f"door {text!r}: expected NAME:ADDRESS:SCBK (32 hex digits, or "
                             "install)") from exc
        if (spec.scbk is not None and len(spec.scbk) != 16) or not 0 <= spec.address <= 126 \
                or not name:
            raise ValueError(f"door {text!r}: address 0-126 and a 16-byte key are needed")
        return spec


async def serve(doors: list[DoorSpec], data: Path, stop: asyncio.Event,
                control_port: int = 0) -> None:
    """Start one simulated reader + door controller per spec on a pty, and the control server;
    print where each door is, and keep them until `stop` is set."""
    data.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (start-up: nothing else runs yet)
    async with contextlib.AsyncExitStack() as stack:
        sims: dict[str, OsdpDoorSimulator] = {}
        for spec in doors:
            sim = OsdpDoorSimulator(address=spec.address, scbk=spec.scbk, name=spec.name)
            sim.start()
            stack.callback(sim.close)
            sims[spec.name] = sim
            if spec.link is not None:
                _link(spec.link, sim.port)
                stack.callback(spec.link.unlink, missing_ok=True)
            mode = " (install mode)" if spec.scbk is None else ""
            print(f"door {spec.name}: OSDP address {spec.address} on {sim.port}{mode}", flush=True)
        runner = web.AppRunner(create_control_app(sims))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", control_port)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        info = data / "sim.json"
        info.write_text(json.dumps({"control_url": url, "doors": {n: s.port for n, s in sims.items()}}))
        stack.callback(info.unlink, missing_ok=True)
        print(f"control: {url}", flush=True)
        await stop.wait()


def _link(link: Path, target: str) -> None:
    """Point `link` at the pty, replacing a stale link a killed simulator left behind."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} exists and is not a link: not replacing it")
    link.symlink_to(target)
