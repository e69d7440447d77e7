"""Database helpers shared by the views: one transaction per write, then the publisher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.errors import InvalidError, NotFoundError
from hub.api.core.keys import PUBLISHER, SESSIONS
from hub.api.core.replica import read_session
from hub.compiler import affected_edges
from hub.models import Base, Site

log = logging.getLogger(__name__)
T = TypeVar("T", bound=Base)


@dataclass
class Change:
    """A write in progress: its session and the sites whose permissions it touches.

    `sites` recompiles every edge of a site; `edges` only the edges named (per site), as
    found by `touch` from the rows the write changes."""

    session: AsyncSession
    sites: set[str] = field(default_factory=set)
    edges: dict[str, set[int]] = field(default_factory=dict)
    # per site, the residents whose cards or memberships alone changed; None once anything
    # else (a door, a pair) changed there too
    residents: dict[str, set[int] | None] = field(default_factory=dict)

    async def touch(self, site_id: str, **rows: Iterable[int]) -> None:
        """Mark the edges whose snapshots these rows reach (see compiler.affected_edges);
        call it before and after the change when the change can move what they reach.
        `residents=` says only those residents' cards or group memberships changed."""
        rows = {k: list(v) for k, v in rows.items()}
        found = await affected_edges(self.session, **rows)
        self.edges.setdefault(site_id, set()).update(found)
        only_residents = set(rows) == {"residents"}
        held = self.residents.get(site_id, set())
        if not only_residents or held is None:
            self.residents[site_id] = None
        else:
            held.update(rows["residents"])
            self.residents[site_id] = held


@asynccontextmanager
async def reading(request: web.Request) -> AsyncIterator[AsyncSession]:
    """A session for reads only: on the replica when one is configured (hub.api.core.replica)."""
    async with await read_session(request) as session:
        yield session


async def autocommit(session: AsyncSession) -> None:
    """Let a read-only session's statements run without a transaction: no BEGIN and ROLLBACK
    round trips around them (each statement still sees committed data). Only while the
    session has no connection yet (a replica session already has one: it keeps its
    transaction); the pool resets the connection when the session returns it."""
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@asynccontextmanager
async def writing(request: web.Request) -> AsyncIterator[Change]:
    """Commit everything or nothing; only after the commit, tell the publisher which sites
    changed (an error anywhere inside rolls back and publishes nothing)."""
    async with request.app[SESSIONS]() as session, session.begin():
        change = Change(session)
        yield change
    publisher = request.app[PUBLISHER]
    for site_id in sorted(change.sites):
        try:
            publisher.registry_changed(site_id)
        except Exception:  # the write is committed; a publisher fault must not undo the answer
            log.exception("registry_changed(%r) failed", site_id)
    for site_id, edges in sorted(change.edges.items()):
        if site_id in change.sites or not edges:
            continue
        try:
            residents = change.residents.get(site_id)
            publisher.registry_changed(site_id, edges=sorted(edges),
                                       residents=None if residents is None else sorted(residents))
        except Exception:
            log.exception("registry_changed(%r, edges=%s) failed", site_id, sorted(edges))


async def get_or_404(session: AsyncSession, model: type[T], key: object, what: str) -> T:
    row = await session.get(model, key)
    if row is None:
        raise NotFoundError(what, key)
    return row


async def require_site(session: AsyncSession, site_id: str, field: str = "site_id") -> Site:
    site = await session.scalar(select(Site).where(Site.id == site_id))
    if site is None:
        raise InvalidError.unknown(field, "site", site_id, f"unknown site {site_id!r}")
    return site
