"""Keeps each edge's retained configuration in step with the installation: an installation
change names its edges (`edges_changed`, after the commit); bursts are coalesced, then each
edge is compiled (hub.installation.compile) and published (hub.edgeconfig) in a transaction
holding the edge's row, so two hub workers never publish an older content under a newer
version. A publish that fails is retried with backoff; one that cannot compile is logged.

At start-up every edge is swept once, a few at a time behind the changes asked meanwhile:
compiled and compared with the hash stored at its last publish (a change whose publish a
stopped hub never made, or a newer hub compiling differently, gives a new version), and sent
again unchanged when the edge does not report running the stored version (a broker that lost
its retained messages). An edge that runs what the hub holds costs one compile, no message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.edgeconfig import ConfigPublished, EdgeConfigPublisher
from hub.installation.compile import edge_config
from hub.models import Edge, EdgeConfigVersion
from hub.mqtt import backoff_delay
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class ConfigPusher:
    """`edges_changed(site, edges)` is cheap and non-blocking; a background task publishes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 publisher: EdgeConfigPublisher, *, debounce_s: float = 0.2,
                 keys: list[Ed25519PrivateKey] | None = None, sweep_on_start: bool = True,
                 sweep_batch: int = 8) -> None:
        self._sessions = sessions
        self._keys = keys  # the hub's signing keys: they open the reader keys edges reported
        self._publisher = publisher
        self._debounce_s = debounce_s
        self._pending: set[int] = set()
        self._resend: set[int] = set()  # publish even unchanged: the edge does not hold it
        self._sweep_on_start, self._sweep_batch = sweep_on_start, sweep_batch
        self._swept = asyncio.Event()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="hub-config-pusher")
        self._sweeper = asyncio.create_task(self._sweep(), name="hub-config-sweep")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await cancel_and_wait(self._sweeper)
        await cancel_and_wait(self._task)
        self._task = None

    def edges_changed(self, site_id: str, edges: Iterable[int]) -> None:
        self._pending.update(edges)
        if self._pending:
            self._idle.clear()
            self._wake.set()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every edge named so far has been published (for tests)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def wait_swept(self, timeout: float = 30.0) -> None:
        """Until the start-up sweep went through every edge (for tests)."""
        async with asyncio.timeout(timeout):
            await self._swept.wait()

    async def _sweep(self) -> None:
        """Every edge once, `sweep_batch` at a time: each batch waits for the pusher to be
        idle, so changes asked meanwhile go first and a big compound is not compiled at once."""
        try:
            if not self._sweep_on_start:
                return
            async with self._sessions() as session:
                found = await session.execute(
                    select(Edge.id, Edge.config_version_held, EdgeConfigVersion.version)
                    .outerjoin(EdgeConfigVersion, EdgeConfigVersion.edge_id == Edge.id)
                    .order_by(Edge.id))
                # (edge, the version it reports running, the version stored at its last publish)
                rows: list[tuple[int, int | None, int | None]] = [
                    (r[0], r[1], r[2]) for r in found.all()]
            for start in range(0, len(rows), self._sweep_batch):
                await self._idle.wait()
                batch = rows[start:start + self._sweep_batch]
                self._resend.update(edge_id for edge_id, held, stored in batch
                                    if stored is not None and held != stored)
                self.edges_changed("", (edge_id for edge_id, _, _ in batch))
                await self._idle.wait()
            log.info("start-up sweep of %d edges' configurations done", len(rows))
        except Exception:  # the changes still go out; the next start sweeps again
            log.exception("the start-up sweep of edge configurations failed")
        finally:
            self._swept.set()

    async def push(self, edge_id: int, *, force: bool = False) -> ConfigPublished | None:
        """Compile and publish one edge now (None: the edge is gone); `force` sends it even
        when unchanged."""
        async with self._sessions() as session, session.begin():
            edge = await session.scalar(select(Edge).where(Edge.id == edge_id).with_for_update())
            if edge is None:
                return None
            config = await edge_config(session, edge_id, self._keys)
            # the broker has it before the version commits: a failed publish bumps nothing
            return await self._publisher.publish(session, edge.site_id, edge.name, config,
                                                 force=force)

    async def _run(self) -> None:
        attempt = 0
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._debounce_s)  # let a burst of changes land first
            self._wake.clear()
            todo, self._pending = sorted(self._pending), set()
            failed = False
            for edge_id in todo:
                try:
                    done = await self.push(edge_id, force=edge_id in self._resend)
                except ValidationError as exc:  # the installation does not make a config
                    self._resend.discard(edge_id)
                    log.error("edge %s: the installation does not compile: %s", edge_id, exc)
                except Exception:
                    log.exception("publishing the configuration of edge %s failed; will retry",
                                  edge_id)
                    self._pending.add(edge_id)
                    failed = True
                else:
                    self._resend.discard(edge_id)
                    if done is not None and done.published:
                        log.info("edge %s: configuration %d published", done.edge, done.version)
            if failed:
                await asyncio.sleep(backoff_delay(attempt, 0.5, 30.0))
                attempt += 1
                self._wake.set()
                continue
            attempt = 0
            if not self._pending:
                self._idle.set()


__all__ = ["ConfigPusher"]
