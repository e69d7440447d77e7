"""Permission sync: the hub's signed snapshots and deltas into the edge's permission cache."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from pydantic import ValidationError

from edge.access.cache import PermissionCache
from edge.access.errors import AccessError, SnapshotRejectedError
from edge.report import Reporter
from edge.trust import DownlinkGate
from wire import PermissionDelta, PermissionSnapshot, WireError
from wire._base import describe

# the hub ends a snapshot's JSON with its version and hash (wire.permissions.sealed_payload)
_SEAL = re.compile(rb'"version":(\d+),"hash":"([0-9a-f]{64})"')
_BIG = 100_000  # bytes: a payload this long is verified off the event loop


class PermissionSync:
    """Applies what arrives on `perm` and `perm/delta` once the hub's signature verifies
    (`gate`); a refusal is reported, never raised. Versions only grow: an older one is refused
    (`version_regress`) unless the hub's signed reset named exactly it. After every change the
    edge's state is republished (`published`), so the hub sees the version held."""

    def __init__(self, cache: PermissionCache, *, site: str, edge: str, report: Reporter,
                 published: Callable[[], None], gate: DownlinkGate,
                 on_applied: Callable[[PermissionSnapshot], None] | None = None) -> None:
        self._cache = cache
        self._on_applied = on_applied  # parts holding more than credentials (vehicle lanes)
        self._site = site
        self._edge = edge
        self._report = report
        self._published = published
        self._gate = gate

    async def _open(self, topic: str, payload: bytes) -> bytes | None:
        if len(payload) > _BIG:  # hashing megabytes: keep the doors responsive
            return await asyncio.to_thread(self._gate.open, topic, payload)
        return self._gate.open(topic, payload)

    async def snapshot(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        body = await self._open(topic, payload)
        if body is None or self.holds(body):
            return  # refused, or already applied through its delta
        held = (self._cache.version, self._cache.hash)
        try:
            # Validating 100,000 credentials takes a while: keep the doors responsive.
            snapshot = await asyncio.to_thread(PermissionSnapshot.model_validate_json, body)
            if not self._gate.for_me(topic, snapshot.site, snapshot.edge):
                return
            how = self._gate.admit_snapshot(topic, snapshot.version, snapshot.hash, held)
            if how is None or how == "same":
                return
            await asyncio.to_thread(self._cache.apply, snapshot, reset=how == "reset")
            self._gate.applied(how == "reset", snapshot.downlink_keys)
        except ValidationError as exc:
            self._report.agent("perm_rejected", f"invalid snapshot: {describe(exc)}"[:2000])
            return
        except (WireError, AccessError) as exc:
            self._report.agent("perm_rejected", str(exc)[:2000])
            return
        if self._on_applied is not None:  # 100,000 plates take seconds: off the loop
            await asyncio.to_thread(self._on_applied, snapshot)
        self._report.agent("perm_applied", f"{len(snapshot.credentials)} credentials",
                           perm_version=snapshot.version)
        self._published()

    def holds(self, body: bytes) -> bool:
        """Does the body's tail (where the hub writes version and hash) name the snapshot
        held? Only asked of a body whose signature verified."""
        found = _SEAL.search(body[-300:])
        return found is not None and (int(found[1]), found[2].decode()) == (
            self._cache.version, self._cache.hash)

    async def delta(self, topic: str, payload: bytes) -> None:
        body = await self._open(topic, payload)
        if body is None:
            return
        try:
            delta = PermissionDelta.model_validate_json(body)
            if not self._gate.for_me(topic, delta.site, delta.edge):
                return
            how = self._gate.admit_snapshot(topic, delta.version, delta.hash,
                                            (self._cache.version, self._cache.hash))
            if how != "apply":
                return  # refused, held already, or a reset: that takes the full snapshot
            await asyncio.to_thread(self._cache.apply_delta, delta)
        except ValidationError as exc:
            self._report.agent("perm_rejected", f"invalid delta: {describe(exc)}"[:2000])
            return
        except SnapshotRejectedError:
            return  # not our base: the full snapshot that follows brings us up to date
        except (WireError, AccessError) as exc:
            self._report.agent("perm_rejected", str(exc)[:2000])
            return
        self._report.agent(
            "perm_applied",
            f"delta: {len(delta.upsert)} changed, {len(delta.remove)} removed credentials",
            perm_version=delta.version,
        )
        self._published()
