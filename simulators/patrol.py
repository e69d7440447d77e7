"""`lintel sim patrol`: a guard's phone walking a round against the hub's API, reading each
checkpoint's display (the displays are simulated: their secrets, as given at installation,
come from a JSON file {"CP1": "<hex>", ...}). The phone's Ed25519 key is kept in a file and
enrolled on first use; `skip` leaves checkpoints out (the hub's sweep then raises the missed
alarm at the round's deadline); `offline` keeps every reading in a queue and sends it at the
end in one batch, as the phone page does when back online."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from wire.patrol import display_code, reading_bytes, step_of


class PatrolError(Exception):
    """The hub refused a step of the walk (its answer is in the message)."""


def phone_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The phone's key from `path` (32-byte seed, hex), made when missing; True when new."""
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip())), False
    key = Ed25519PrivateKey.generate()
    path.write_text(key.private_bytes_raw().hex())
    path.chmod(0o600)
    return key, True


async def walk(hub: str, site: str, guard: str, password: str, route: str,
               secrets: Mapping[str, str], key_file: Path, *, skip: Collection[str] = (),
               pace_s: float = 0.0, offline: bool = False) -> dict[str, Any]:
    """Walk one round; returns the hub's view of it."""
    api = hub.rstrip("/") + "/api/v1"
    async with aiohttp.ClientSession() as http:
        async def call(method: str, path: str, body: Any = None, token: str | None = None
                       ) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, api + path, json=body, headers=headers) as resp:
                answer = await resp.json()
                if resp.status >= 300:
                    raise PatrolError(f"{method} {path}: {resp.status} {answer}")
                return answer

        token = (await call("POST", "/auth/login",
                            {"username": guard, "password": password}))["token"]
        key, new = phone_key(key_file)
        if new:
            public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            await call("POST", "/patrol/keys", {"public_key": base64.b64encode(public).decode()},
                       token)
        routes = (await call("GET", "/patrol/routes", token=token))["items"]
        found = next((r for r in routes if r["site_id"] == site and r["code"] == route), None)
        if found is None:
            raise PatrolError(f"no route {route!r} in {site!r}")
        round_id = (await call("POST", "/patrol/rounds", {"site_id": site, "route": route},
                               token))["id"]
        queue = []
        for stop in found["stops"]:
            checkpoint = stop["checkpoint"]
            if checkpoint in skip:
                continue
            await asyncio.sleep(pace_s)
            ts = datetime.now(UTC)
            code = display_code(secrets[checkpoint], site, checkpoint, step_of(ts))
            reading_id = str(uuid.uuid4())
            signature = key.sign(reading_bytes(site, round_id, checkpoint, code, ts,
                                               reading_id))
            queue.append({"id": reading_id, "checkpoint": checkpoint, "ts": ts.isoformat(),
                          "code": code, "signature": base64.b64encode(signature).decode()})
            if not offline:
                await call("POST", f"/patrol/rounds/{round_id}/readings",
                           {"readings": queue}, token)
                queue = []
        if queue:
            await call("POST", f"/patrol/rounds/{round_id}/readings", {"readings": queue},
                       token)
        return dict(await call("GET", f"/patrol/rounds/{round_id}", token=token))


__all__ = ["PatrolError", "phone_key", "walk"]
