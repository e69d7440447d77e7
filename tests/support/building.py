"""The demo building on real parts, for end-to-end tests: a broker, the hub, libosdp door
simulators on ptys and the building's edge agent, with an authenticated API client."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from hub.rules.clock import Clock
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from lintel.broker import EmbeddedBroker
from simulators.osdp_door import OsdpDoorSimulator
from tests.support.services import MosquittoServer, free_port

ADMIN_PASSWORD = "correct horse battery staple"


@dataclass
class Building:
    hub: Hub  # replaced by `restart_hub`
    settings: HubSettings
    agent: EdgeAgent
    sims: dict[str, OsdpDoorSimulator]
    http: aiohttp.ClientSession  # sends the admin's bearer token
    mqtt_port: int

    @property
    def sim(self) -> OsdpDoorSimulator:
        """The main door's simulator."""
        return self.sims["B1-main"]

    @property
    def api(self) -> str:
        return f"{self.hub.url}/api/v1"

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, f"{self.api}{path}", json=body) as resp:
            payload = await resp.json() if resp.status != 204 else None
            assert resp.status == status, (resp.status, payload)
            return payload

    async def wait_perm_change(self, old_hash: str | None, timeout: float) -> float:
        """Seconds until the edge holds a snapshot other than `old_hash`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.agent.cache.hash not in (None, old_hash):
                return time.monotonic() - start
            await asyncio.sleep(0.01)
        raise AssertionError(f"edge did not apply a new snapshot within {timeout}s")

    async def events(self, **query: str) -> list[dict[str, Any]]:
        """Every access event matching `query`, newest first, through the keyset pages."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {**query, "limit": "500", **({"cursor": cursor} if cursor else {})}
            async with self.http.get(f"{self.api}/access-events", params=params) as resp:
                page = await resp.json()
                assert resp.status == 200, page
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    async def restart_hub(self) -> None:
        await self.hub.__aexit__(None, None, None)
        self.hub = Hub(self.settings, clock=self.hub.clock)
        await self.hub.__aenter__()


@contextlib.asynccontextmanager
async def broker(kind: str) -> AsyncIterator[int]:
    """A Mosquitto process or the embedded amqtt broker on a free loopback port."""
    if kind == "mosquitto":
        server = MosquittoServer()
        server.start()
        try:
            yield server.port
        finally:
            server.cleanup()
    else:
        port = free_port()
        async with EmbeddedBroker(port=port):
            yield port


@contextlib.asynccontextmanager
async def demo_building(
    tmp_path: Path,
    *,
    mqtt_port: int,
    database_url: str,
    shared_group: str | None = "hub",
    doors: Sequence[tuple[str, int]] = (("B1-main", 101),),
    unlock_s: float = 1.0,
    fail_safe: Sequence[str] = (),
    prepare: Callable[[Hub], Awaitable[None]] | None = None,
    ready: Callable[[EdgeAgent], bool] = lambda agent: bool(agent.cache.version),
    devices: Sequence[dict[str, Any]] = (),
    cars: dict[str, str] | None = None,
    clock: Clock | None = None,
    edge_extra: Callable[[Hub], Awaitable[dict[str, Any]]] | None = None,
    edge_settings: dict[str, Any] | None = None,
    **hub_settings: Any,
) -> AsyncIterator[Building]:
    """The hub with the demo registry (`prepare` may add to it before the first publish), one
    simulated reader + door controller per door, and the edge; yields once every reader is
    online and `ready(agent)` holds. More keys of the edge's config: `edge_settings`, and
    `edge_extra(hub)` for those that need the running hub (cameras); `devices` are its Modbus
    devices (their simulators are the caller's), `cars` the car readers among the doors (door
    -> its elevator device); `clock` is the hub rules' clock; the doors named in `fail_safe`
    are released by the edge on a fire alarm."""
    # the edge runs its file's installation (the simulators' ptys), which the seed's does not
    # describe: a restarted hub must not push the seed's over it
    hub_settings.setdefault("config_sweep_on_start", False)
    settings = HubSettings(
        database_url=database_url, mqtt_host="127.0.0.1", mqtt_port=mqtt_port,
        mqtt_username="hub", mqtt_client_id=f"hub-{secrets.token_hex(3)}",
        mqtt_shared_group=shared_group, http_host="127.0.0.1", http_port=free_port(),
        admin_username="admin", admin_password=ADMIN_PASSWORD, data_dir=tmp_path / "hub",
        **hub_settings,
    )
    building: Building | None = None
    hub = Hub(settings, clock=clock)
    await hub.__aenter__()
    try:
        async with contextlib.AsyncExitStack() as stack:
            await seed_demo(hub.sessions)
            if prepare is not None:
                await prepare(hub)
            await hub.publisher.publish_site("demo")
            sims: dict[str, OsdpDoorSimulator] = {}
            keys: dict[str, bytes] = {}
            for name, address in doors:
                keys[name] = secrets.token_bytes(16)
                sim = OsdpDoorSimulator(address=address, scbk=keys[name], name=name)
                sim.start()
                stack.callback(sim.close)
                sims[name] = sim
            config = EdgeConfig.model_validate({
                "site": "demo", "edge": "b1-edge", "data_dir": str(tmp_path / "edge"),
                "mqtt": {"port": mqtt_port, "username": "b1-edge", "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "doors": [{"id": name, "unlock_s": unlock_s,
                           "fail_safe_egress": name in fail_safe,
                           "elevator": (cars or {}).get(name),
                           "reader": {"port": sim.port, "address": sim.address,
                                      "scbk": keys[name].hex()}}
                          for name, sim in sims.items()],
                "devices": list(devices),
                "hub_keys": hub.downlink.public_keys if hub.downlink else [],
                **(await edge_extra(hub) if edge_extra is not None else {}),
                **(edge_settings or {}),
            })
            agent = await stack.enter_async_context(EdgeAgent(config))
            http = await stack.enter_async_context(aiohttp.ClientSession())
            building = Building(hub, settings, agent, sims, http, mqtt_port)
            login = await building.call(
                "POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})
            http.headers["Authorization"] = f"Bearer {login['token']}"
            deadline = time.monotonic() + 15
            while not (all(s.online for s in sims.values()) and ready(agent)):
                assert time.monotonic() < deadline, "readers or permissions never came up"
                await asyncio.sleep(0.05)
            yield building
    finally:
        await (building.hub if building is not None else hub).__aexit__(None, None, None)
