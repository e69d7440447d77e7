"""Compile the registry into one permission snapshot per edge and publish it (retained).

A site is compiled with a few set-based queries (no per-row loads), so 100,000 credentials
take about a second. Versions live in `permission_versions` and only grow, also with
several hub workers: each site is compiled under a database lock on its `sites` row, and a
version is bumped with a conditional UPDATE only when the content hash changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.credentials.grants import SiteGrants, edge_grants, load_site_grants
from hub.errors import NotFound, PublishError
from hub.models import (
    AccessGroup,
    CardCredential,
    Door,
    Edge,
    PermissionVersion,
    Schedule,
    Site,
    group_doors,
    resident_groups,
    utcnow,
)
from hub.mqtt import MqttClient, backoff_delay
from wire import (
    AccessGroupRule,
    DoorInfo,
    PermissionSnapshot,
    SnapshotContent,
    topics,
)
from wire import CardCredential as WireCard
from wire import Schedule as WireSchedule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PublishResult:
    edge: str
    version: int
    hash: str
    published: bool  # False: unchanged, nothing sent
    credentials: int


@dataclass
class _Registry:
    """Everything of one site that the snapshots need, loaded in a few queries."""

    timezone: str
    edges: list[tuple[int, str]]
    doors: list[tuple[int, int, str, str, str]]  # id, edge_id, name, label, mode
    schedules: dict[int, tuple[str, list[dict[str, Any]]]]
    groups: dict[int, int | None]  # group id -> schedule id
    group_doors: dict[int, set[int]]
    resident_groups: dict[int, set[int]]
    cards: list[tuple[str, int, str, Any, Any]]  # number, resident, status, from, until
    signed: SiteGrants = field(default_factory=SiteGrants)  # QR, Bluetooth, visitor passes
    hub_public_key: str | None = None


async def load_registry(session: AsyncSession, site_id: str) -> _Registry:
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound("site", site_id)
    edges = (await session.execute(
        select(Edge.id, Edge.name).where(Edge.site_id == site_id).order_by(Edge.name)
    )).all()
    doors = (await session.execute(
        select(Door.id, Door.edge_id, Door.name, Door.label, Door.mode)
        .where(Door.site_id == site_id)
    )).all()
    schedules = {
        sid: (name, windows) for sid, name, windows in (await session.execute(
            select(Schedule.id, Schedule.name, Schedule.windows).where(Schedule.site_id == site_id)
        )).all()
    }
    groups = dict((await session.execute(
        select(AccessGroup.id, AccessGroup.schedule_id).where(AccessGroup.site_id == site_id)
    )).all())
    gd: dict[int, set[int]] = defaultdict(set)
    for gid, did in (await session.execute(
        select(group_doors.c.group_id, group_doors.c.door_id)
        .join(AccessGroup, AccessGroup.id == group_doors.c.group_id)
        .where(AccessGroup.site_id == site_id)
    )).all():
        gd[gid].add(did)
    rg: dict[int, set[int]] = defaultdict(set)
    for rid, gid in (await session.execute(
        select(resident_groups.c.resident_id, resident_groups.c.group_id)
        .join(AccessGroup, AccessGroup.id == resident_groups.c.group_id)
        .where(AccessGroup.site_id == site_id)
    )).all():
        rg[rid].add(gid)
    cards = (await session.execute(
        select(CardCredential.card_number, CardCredential.resident_id, CardCredential.status,
               CardCredential.valid_from, CardCredential.valid_until)
        .where(CardCredential.site_id == site_id)
    )).all()
    return _Registry(
        site.timezone,
        [(eid, name) for eid, name in edges],
        [(did, eid, name, label, mode) for did, eid, name, label, mode in doors],
        schedules, groups, gd, rg,
        [(number, rid, status, vf, vu) for number, rid, status, vf, vu in cards],
        await load_site_grants(session, site_id),
    )


def compile_edge(site_id: str, edge_id: int, edge_name: str, reg: _Registry) -> SnapshotContent:
    """The snapshot content for one edge, in a canonical order so equal content hashes equal."""
    my_doors = {d[0]: d for d in reg.doors if d[1] == edge_id}
    door_infos = sorted(
        (DoorInfo.model_validate({"id": name, "name": label, "mode": mode})
         for _, _, name, label, mode in my_doors.values()),
        key=lambda d: d.id,
    )
    rules: list[AccessGroupRule] = []
    used_schedules: set[int] = set()
    for gid in sorted(reg.groups):
        doors_here = reg.group_doors.get(gid, set()) & my_doors.keys()
        if not doors_here:
            continue
        sid = reg.groups[gid]
        if sid is not None:
            used_schedules.add(sid)
        rules.append(AccessGroupRule(
            id=gid,
            doors=sorted(my_doors[d][2] for d in doors_here),
            schedule=reg.schedules[sid][0] if sid is not None else None,
        ))
    group_ids = {r.id for r in rules}
    schedules = sorted(
        (WireSchedule.model_validate({"id": reg.schedules[s][0], "windows": reg.schedules[s][1]})
         for s in used_schedules),
        key=lambda s: s.id,
    )
    credentials: list[WireCard] = []
    for number, resident, status, valid_from, valid_until in reg.cards:
        groups = reg.resident_groups.get(resident, set()) & group_ids
        if not groups:
            continue
        try:
            credentials.append(WireCard.model_validate({
                "card": number, "resident_id": resident, "status": status,
                "valid_from": valid_from, "valid_until": valid_until, "groups": sorted(groups),
            }))
        except ValidationError as exc:
            # One bad row must not take every door of the edge offline.
            log.error("card %r of resident %s left out of %s/%s: %s",
                      number, resident, site_id, edge_name, exc)
    signed = edge_grants(reg.signed, {d: my_doors[d][2] for d in my_doors},
                         reg.resident_groups, group_ids)
    credentials.extend(signed.credentials)
    credentials.sort(key=lambda c: c.card)
    return SnapshotContent(
        site=site_id, edge=edge_name, timezone=reg.timezone, doors=door_infos,
        schedules=schedules, groups=[*signed.groups, *rules], credentials=credentials,
        hub_public_key=reg.hub_public_key, phone_keys=signed.phone_keys,
        visitor_passes=signed.visitor_passes,
    )


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
    ) -> None:
        self._hub_public_key = hub_public_key  # every snapshot carries it for the edges
        self._sessions = sessions
        self._mqtt = mqtt
        self._debounce_s = debounce_s
        self._publish_timeout_s = publish_timeout_s
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._busy = publish_all_on_start
        self._publish_all_on_start = publish_all_on_start
        self._site_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="hub-permission-publisher")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def registry_changed(self, site_id: str) -> None:
        """Schedule a compile + publish of `site_id` soon (call after the change committed)."""
        self._pending.add(site_id)
        self._wake.set()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every scheduled site has been published (for tests)."""
        async def idle() -> None:
            while self._pending or self._busy or self._wake.is_set():
                await asyncio.sleep(0.02)
        await asyncio.wait_for(idle(), timeout)

    async def publish_all(self, *, force: bool = True) -> list[PublishResult]:
        """Publish every site; `force` re-sends unchanged snapshots (at start-up, in case an
        earlier process stopped between recording a version and publishing it)."""
        async with self._sessions() as session:
            site_ids = list(await session.scalars(select(Site.id).order_by(Site.id)))
        results: list[PublishResult] = []
        for site_id in site_ids:
            results.extend(await self.publish_site(site_id, force=force))
        return results

    async def publish_site(self, site_id: str, *, force: bool = False) -> list[PublishResult]:
        """Compile every edge of the site; publish (retained, QoS 1) those whose content changed."""
        async with self._site_locks[site_id]:
            started = time.perf_counter()
            results: list[PublishResult] = []
            async with self._sessions() as session, session.begin():
                await _lock_site(session, site_id)
                reg = await load_registry(session, site_id)
                reg.hub_public_key = self._hub_public_key
                for edge_id, edge_name in reg.edges:
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

    async def _publish_edge(self, session: AsyncSession, site_id: str, edge_id: int,
                            content: SnapshotContent, force: bool) -> PublishResult:
        digest = await asyncio.to_thread(content.content_hash)
        version = await _bump_version(session, edge_id, digest)
        if version is None:
            if not force:
                return PublishResult(content.edge, await _current_version(session, edge_id),
                                     digest, False, len(content.credentials))
            version = await _current_version(session, edge_id)
        snapshot = PermissionSnapshot.build(content, version, utcnow())
        payload = await asyncio.to_thread(snapshot.model_dump_json)
        await self._mqtt.publish(
            topics.perm(site_id, content.edge), payload, qos=1, retain=True,
            timeout=self._publish_timeout_s,
        )
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
        attempt = 0
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._debounce_s)  # let a burst of changes land first
            self._wake.clear()
            sites, self._pending = self._pending, set()
            self._busy = True
            try:
                failed = await self._publish_many(sites)
            finally:
                self._busy = False
            if failed:
                self._pending |= failed
                delay = backoff_delay(attempt, 0.5, 30.0)
                attempt += 1
                await asyncio.sleep(delay)
                self._wake.set()
            else:
                attempt = 0

    async def _publish_many(self, sites: Iterable[str]) -> set[str]:
        failed: set[str] = set()
        for site_id in sorted(sites):
            try:
                await self.publish_site(site_id)
            except NotFound:
                pass  # the site was deleted: nothing to publish
            except (PublishError, Exception):
                log.exception("publishing permissions of site %s failed; will retry", site_id)
                failed.add(site_id)
        return failed


async def _lock_site(session: AsyncSession, site_id: str) -> None:
    """Serialise compiles of one site across hub workers for the rest of the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    else:
        # SQLite has no row locks: a no-op write takes the database's write lock now, so
        # the reads below see the latest committed registry.
        await session.execute(
            update(Site).where(Site.id == site_id).values(name=Site.name)
            .execution_options(synchronize_session=False)
        )


async def _bump_version(session: AsyncSession, edge_id: int, digest: str) -> int | None:
    """The new version if the hash changed (or the edge had none), else None."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    now = utcnow()
    created = await session.execute(
        insert(PermissionVersion)
        .values(edge_id=edge_id, version=1, hash=digest, published_at=now)
        .on_conflict_do_nothing(index_elements=["edge_id"])
        .returning(PermissionVersion.version)  # rowcount is not reliable here on psycopg
    )
    if created.scalar_one_or_none() is not None:
        return 1
    bumped = await session.execute(
        update(PermissionVersion)
        .where(PermissionVersion.edge_id == edge_id, PermissionVersion.hash != digest)
        .values(version=PermissionVersion.version + 1, hash=digest, published_at=now)
        .returning(PermissionVersion.version)
        .execution_options(synchronize_session=False)
    )
    return bumped.scalar_one_or_none()


async def _current_version(session: AsyncSession, edge_id: int) -> int:
    return int((await session.execute(
        select(PermissionVersion.version).where(PermissionVersion.edge_id == edge_id)
    )).scalar_one())


__all__ = ["PermissionPublisher", "PublishResult", "compile_edge", "load_registry"]
