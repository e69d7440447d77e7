"""Permission sync: the hub's snapshots and deltas into the edge's permission cache."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from pydantic import ValidationError

from edge.access.cache import PermissionCache
from edge.access.errors import AccessError, SnapshotRejectedError
from edge.report import Reporter
from wire import PermissionDelta, PermissionSnapshot, WireError
from wire._base import describe

# the hub ends a snapshot's JSON with its version and hash (wire.permissions.sealed_payload)
_SEAL = re.compile(rb'"version":(\d+),"hash":"([0-9a-f]{64})"')


class PermissionSync:
    """Applies what arrives on `perm` and `perm/delta`; a refusal is reported, never raised.
    After every change the edge's state is republished (`published`), so the hub sees the
    version held."""

    def __init__(self, cache: PermissionCache, *, site: str, edge: str, report: Reporter,
                 published: Callable[[], None]) -> None:
        self._cache = cache
        self._site = site
        self._edge = edge
        self._report = report
        self._published = published

    async def snapshot(self, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        if self.holds(payload):
            return  # already applied through its delta: skip parsing every credential again
        try:
            # Validating 100,000 credentials takes a while: keep the doors responsive.
            snapshot = await asyncio.to_thread(PermissionSnapshot.model_validate_json, payload)
            if snapshot.site != self._site or snapshot.edge != self._edge:
                raise WireError(f"snapshot is for {snapshot.site}/{snapshot.edge}")
            if snapshot.version == self._cache.version and snapshot.hash == self._cache.hash:
                return
            await asyncio.to_thread(self._cache.apply, snapshot)
        except ValidationError as exc:
            self._report.agent("perm_rejected", f"invalid snapshot: {describe(exc)}"[:2000])
            return
        except (WireError, AccessError) as exc:
            self._report.agent("perm_rejected", str(exc)[:2000])
            return
        self._report.agent("perm_applied", f"{len(snapshot.credentials)} credentials",
                           perm_version=snapshot.version)
        self._published()

    def holds(self, payload: bytes) -> bool:
        """Does the payload's tail (where the hub writes version and hash) name the snapshot
        held? A payload that lies about it is one the cache would refuse anyway."""
        found = _SEAL.search(payload[-300:])
        return found is not None and (int(found[1]), found[2].decode()) == (
            self._cache.version, self._cache.hash)

    async def delta(self, payload: bytes) -> None:
        try:
            delta = PermissionDelta.model_validate_json(payload)
            if delta.site != self._site or delta.edge != self._edge:
                raise WireError(f"delta is for {delta.site}/{delta.edge}")
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
