"""Keeps each edge's retained configuration in step with the installation: an installation
change names its edges (`edges_changed`, after the commit); bursts are coalesced, then each
edge is compiled (hub.installation.compile) and published (hub.edgeconfig) in a transaction
holding the edge's row, so two hub workers never publish an older content under a newer
version. A publish that fails is retried with backoff; one that cannot compile is logged."""

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
from hub.models import Edge
from hub.mqtt import backoff_delay
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class ConfigPusher:
    """`edges_changed(site, edges)` is cheap and non-blocking; a background task publishes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 publisher: EdgeConfigPublisher, *, debounce_s: float = 0.2,
                 keys: list[Ed25519PrivateKey] | None = None) -> None:
        self._sessions = sessions
        self._keys = keys  # the hub's signing keys: they open the reader keys edges reported
        self._publisher = publisher
        self._debounce_s = debounce_s
        self._pending: set[int] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="hub-config-pusher")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
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

    async def push(self, edge_id: int) -> ConfigPublished | None:
        """Compile and publish one edge now (None: the edge is gone)."""
        async with self._sessions() as session, session.begin():
            edge = await session.scalar(select(Edge).where(Edge.id == edge_id).with_for_update())
            if edge is None:
                return None
            config = await edge_config(session, edge_id, self._keys)
            # the broker has it before the version commits: a failed publish bumps nothing
            return await self._publisher.publish(session, edge.site_id, edge.name, config)

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
                    done = await self.push(edge_id)
                except ValidationError as exc:  # the installation does not make a config
                    log.error("edge %s: the installation does not compile: %s", edge_id, exc)
                except Exception:
                    log.exception("publishing the configuration of edge %s failed; will retry",
                                  edge_id)
                    self._pending.add(edge_id)
                    failed = True
                else:
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
