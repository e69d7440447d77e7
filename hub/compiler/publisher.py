"""Publish: keeps every edge's retained permission snapshot in step with the registry.

A change schedules its site; bursts are coalesced, then the site is loaded (load.py),
compiled in a thread (compile.py), versioned (versions.py), patched or sent as a delta where
it can be (delta.py) and published (downlink.py), all under a lock on the site's row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.compiler.compile import compile_edge
from hub.compiler.delta import Published, by_card, delta, merge
from hub.compiler.downlink import PermissionDownlink
from hub.compiler.load import load_registry, lock_site
from hub.compiler.versions import bump_version, current_version
from hub.credentials.downlink import DownlinkSigner
from hub.errors import NotFound, PublishError
from hub.models import PermissionVersion, Site, utcnow
from hub.mqtt import MqttClient, backoff_delay
from hub.tasks import cancel_and_wait
from wire import SnapshotContent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishResult:
    edge: str
    version: int
    hash: str
    published: bool  # False: unchanged, nothing sent
    credentials: int


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a burst of changes asks to recompile: None means all edges / unknown residents."""

    edges: set[int] | None
    residents: set[int] | None

    def merge(self, other: _Scope) -> _Scope:
        edges = None if self.edges is None or other.edges is None else self.edges | other.edges
        residents = (None if self.residents is None or other.residents is None
                     else self.residents | other.residents)
        return _Scope(edges, None if edges is None else residents)


class PermissionPublisher:
    """Keeps every edge's retained `perm` snapshot in step with the registry.

    `registry_changed(site)` is cheap and non-blocking: bursts are coalesced and the site is
    compiled and published shortly after by a background task.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mqtt: MqttClient,
        *,
        debounce_s: float = 0.2,
        publish_timeout_s: float = 30.0,
        publish_all_on_start: bool = True,
        hub_public_key: str | None = None,
        downlink: DownlinkSigner,
    ) -> None:
        self._hub_public_key = hub_public_key  # every snapshot carries it for the edges
        self._downlink_keys = downlink.public_keys  # ... and the keys its downlink accepts
        self._sessions = sessions
        self._downlink = PermissionDownlink(mqtt, downlink, timeout_s=publish_timeout_s)
        self._debounce_s = debounce_s
        # site -> what to recompile
        self._pending: dict[str, _Scope] = {}
        self._wake = asyncio.Event()
        self._busy = publish_all_on_start
        self._publish_all_on_start = publish_all_on_start
        self._site_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # what this process last published per edge id, to send the next version as a delta
        self._last: dict[int, Published] = {}
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._note_idle()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="hub-permission-publisher")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def registry_changed(
        self, site_id: str, edges: Iterable[int] | None = None,
        residents: Iterable[int] | None = None,
    ) -> None:
        """Schedule a compile + publish of `site_id` soon (call after the change committed).

        With `edges`, only those edges of the site are recompiled (see `affected_edges`); with
        `residents` too, when only those residents' cards or memberships changed, an edge this
        process published last is recompiled from its previous snapshot and their cards."""
        new = _Scope(None if edges is None else set(edges),
                     None if residents is None or edges is None else set(residents))
        held = self._pending.get(site_id)
        self._pending[site_id] = new if held is None else held.merge(new)
        self._wake.set()
        self._note_idle()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every scheduled site has been published (for tests)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    def _note_idle(self) -> None:
        """Keep `_idle` true exactly when nothing is scheduled, waiting or being published."""
        if self._pending or self._busy or self._wake.is_set():
            self._idle.clear()
        else:
            self._idle.set()

    async def publish_all(self, *, force: bool = True) -> list[PublishResult]:
        """Publish every site; `force` re-sends unchanged snapshots (at start-up, in case an
        earlier process stopped between recording a version and publishing it)."""
        async with self._sessions() as session:
            site_ids = list(await session.scalars(select(Site.id).order_by(Site.id)))
        results: list[PublishResult] = []
        for site_id in site_ids:
            results.extend(await self.publish_site(site_id, force=force))
        return results

    async def publish_site(
        self, site_id: str, *, force: bool = False, edges: Collection[int] | None = None,
        residents: Collection[int] | None = None,
    ) -> list[PublishResult]:
        """Compile the site's edges (all, or those in `edges`); publish (retained, QoS 1) those
        whose content changed. With `residents` (only their cards or memberships changed), an
        edge whose last snapshot this process published is patched instead of recompiled."""
        async with self._site_locks[site_id]:
            started = time.perf_counter()
            results: list[PublishResult] = []
            async with self._sessions() as session, session.begin():
                await lock_site(session, site_id)
                patched: dict[int, SnapshotContent] = {}
                if residents is not None and edges is not None:
                    patched = await self._patch(session, site_id, edges, residents)
                rest = None if edges is None else [e for e in edges if e not in patched]
                reg = await load_registry(session, site_id, rest) if rest != [] else None
                if reg is not None:
                    reg.hub_public_key = self._hub_public_key
                    reg.downlink_keys = self._downlink_keys
                todo: list[tuple[int, str | None]] = [  # None: patched, nothing to compile
                    (e, None) for e in sorted(patched, key=lambda e: patched[e].edge)]
                todo += [(e, name) for e, name in (reg.edges if reg is not None else [])]
                for edge_id, edge_name in todo:
                    if edge_name is None:
                        content = patched[edge_id]
                    else:
                        assert reg is not None
                        # Threads keep the event loop (and so the ingest) responsive meanwhile.
                        content = await asyncio.to_thread(compile_edge, site_id, edge_id,
                                                          edge_name, reg)
                    results.append(
                        await self._publish_edge(session, site_id, edge_id, content, force)
                    )
                # Commit after the broker has every snapshot: a failed publish bumps nothing.
            log.info("site %s: %d edge(s) compiled in %.2fs, %d published", site_id,
                     len(results), time.perf_counter() - started,
                     sum(r.published for r in results))
            return results

    async def _patch(self, session: AsyncSession, site_id: str, edges: Collection[int],
                     residents: Collection[int]) -> dict[int, SnapshotContent]:
        """The new content of each edge that can be patched: this process published its
        snapshot last (the database still names that version and hash) and nothing but these
        residents' cards changed. Other edges are left out, for a full compile."""
        candidates = [e for e in edges if e in self._last]
        if not candidates:
            return {}
        held = dict((await session.execute(
            select(PermissionVersion.edge_id, PermissionVersion.hash)
            .where(PermissionVersion.edge_id.in_(sorted(candidates)))
        )).all())
        fresh = [e for e in candidates if held.get(e) == self._last[e].hash]
        if not fresh:
            return {}
        reg = await load_registry(session, site_id, fresh, residents)
        reg.hub_public_key = self._hub_public_key
        reg.downlink_keys = self._downlink_keys
        wanted = set(residents)
        out: dict[int, SnapshotContent] = {}
        for edge_id, edge_name in reg.edges:
            part = compile_edge(site_id, edge_id, edge_name, reg)
            content = await asyncio.to_thread(merge, self._last[edge_id], part, wanted)
            if content is not None:
                out[edge_id] = content
        return out

    async def _publish_edge(self, session: AsyncSession, site_id: str, edge_id: int,
                            content: SnapshotContent, force: bool) -> PublishResult:
        # one serialisation serves the hash and the payload
        content_json = await asyncio.to_thread(content.content_json)
        digest = hashlib.sha256(content_json.encode()).hexdigest()
        base = (await session.execute(
            select(PermissionVersion.version, PermissionVersion.hash)
            .where(PermissionVersion.edge_id == edge_id)
        )).one_or_none()
        version = await bump_version(session, edge_id, digest)
        if version is None:
            if not force:
                return PublishResult(content.edge, await current_version(session, edge_id),
                                     digest, False, len(content.credentials))
            version = await current_version(session, edge_id)
        issued_at = utcnow()
        cards = await asyncio.to_thread(by_card, content)
        last = self._last.pop(edge_id, None)
        if last is not None and base is not None and version == base[0] + 1:
            change = await asyncio.to_thread(
                delta, last, (base[0], base[1]), content, cards, version, digest, issued_at)
            if change is not None:
                await self._downlink.send_delta(change)
        await self._downlink.send_snapshot(site_id, content.edge, content_json, version, digest,
                                           issued_at)
        self._last[edge_id] = Published(version, digest, content, cards)
        return PublishResult(content.edge, version, digest, True, len(content.credentials))

    async def _run(self) -> None:
        attempt = 0
        while self._publish_all_on_start:
            try:
                await self.publish_all(force=True)
                break
            except Exception:
                delay = backoff_delay(attempt, 0.5, 30.0)
                attempt += 1
                log.exception("start-up publish failed; retry in %.1fs", delay)
                await asyncio.sleep(delay)
        self._busy = False
        self._note_idle()
        attempt = 0
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._debounce_s)  # let a burst of changes land first
            self._wake.clear()
            sites, self._pending = self._pending, {}
            self._busy = True
            try:
                failed = await self._publish_many(sites)
            finally:
                self._busy = False
                self._note_idle()
            if failed:
                for site_id in failed:
                    self.registry_changed(site_id)
                delay = backoff_delay(attempt, 0.5, 30.0)
                attempt += 1
                await asyncio.sleep(delay)
                self._wake.set()
            else:
                attempt = 0

    async def _publish_many(self, sites: dict[str, _Scope]) -> set[str]:
        failed: set[str] = set()
        for site_id in sorted(sites):
            scope = sites[site_id]
            if scope.edges is not None and not scope.edges:
                continue  # the change touched no edge
            try:
                await self.publish_site(site_id, edges=scope.edges, residents=scope.residents)
            except NotFound:
                pass  # the site was deleted: nothing to publish
            except (PublishError, Exception):
                log.exception("publishing permissions of site %s failed; will retry", site_id)
                failed.add(site_id)
        return failed


__all__ = ["PermissionPublisher", "PublishResult"]
