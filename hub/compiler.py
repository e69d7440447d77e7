"""Compile the registry into one permission snapshot per edge and publish it (retained).

A site is compiled with a few set-based queries (no per-row loads), so 100,000 credentials
take about a second. Versions live in `permission_versions` and only grow, also with
several hub workers: each site is compiled under a database lock on its `sites` row, and a
version is bumped with a conditional UPDATE only when the content hash changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.credentials.downlink import DownlinkSigner
from hub.credentials.grants import SiteGrants, edge_grants, load_site_grants
from hub.errors import NotFound, PublishError
from hub.models import (
    AccessGroup,
    AntiPassbackPair,
    CardCredential,
    Door,
    Edge,
    Holiday,
    PermissionVersion,
    Schedule,
    Site,
    group_doors,
    resident_groups,
    utcnow,
)
from hub.mqtt import MqttClient, backoff_delay
from hub.tasks import cancel_and_wait
from wire import (
    AccessGroupRule,
    AntiPassbackRule,
    DoorInfo,
    PermissionDelta,
    SnapshotContent,
    topics,
)
from wire import CardCredential as WireCard
from wire import Schedule as WireSchedule
from wire.permissions import sealed_payload

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
    """Everything of one site that the snapshots need, loaded in a few queries.

    Loaded for a set of edges (`edge_ids`; None: all): the site-wide parts are small and loaded
    whole; the cards only of residents whose groups open a door of those edges.
    """

    timezone: str
    edges: list[tuple[int, str]]
    doors: list[tuple[int, int, str, str, str, int | None]]  # id, edge, name, label, mode, sched
    schedules: dict[int, tuple[str, list[dict[str, Any]]]]
    groups: dict[int, tuple[int | None, str, int | None]]  # id -> schedule, holiday mode/sched
    group_doors: dict[int, set[int]]
    resident_groups: dict[int, set[int]]
    cards: list[tuple[str, int, str, Any, Any]]  # number, resident, status, from, until
    holidays: list[date]
    passback: list[tuple[int, int, int, str, int | None]]  # id, entry, exit door ids, mode, reset
    signed: SiteGrants = field(default_factory=SiteGrants)  # QR, Bluetooth, visitor passes
    hub_public_key: str | None = None
    downlink_keys: list[str] = field(default_factory=list)


async def load_registry(
    session: AsyncSession, site_id: str, edge_ids: Collection[int] | None = None,
    residents: Collection[int] | None = None,
) -> _Registry:
    """With `residents`, only those residents' memberships and cards are loaded (the rest of
    the site whole): the parts an incremental compile needs."""
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound("site", site_id)
    edge_q = select(Edge.id, Edge.name).where(Edge.site_id == site_id).order_by(Edge.name)
    if edge_ids is not None:
        edge_q = edge_q.where(Edge.id.in_(sorted(edge_ids)))
    edges = (await session.execute(edge_q)).all()
    doors = (await session.execute(
        select(Door.id, Door.edge_id, Door.name, Door.label, Door.mode, Door.unlock_schedule_id)
        .where(Door.site_id == site_id)
    )).all()
    schedules = {
        sid: (name, windows) for sid, name, windows in (await session.execute(
            select(Schedule.id, Schedule.name, Schedule.windows).where(Schedule.site_id == site_id)
        )).all()
    }
    groups = {gid: (sid, mode, hsid) for gid, sid, mode, hsid in (await session.execute(
        select(AccessGroup.id, AccessGroup.schedule_id, AccessGroup.holiday_mode,
               AccessGroup.holiday_schedule_id).where(AccessGroup.site_id == site_id)
    )).all()}
    gd: dict[int, set[int]] = defaultdict(set)
    for gid, did in (await session.execute(
        select(group_doors.c.group_id, group_doors.c.door_id)
        .join(AccessGroup, AccessGroup.id == group_doors.c.group_id)
        .where(AccessGroup.site_id == site_id)
    )).all():
        gd[gid].add(did)
    rg: dict[int, set[int]] = defaultdict(set)
    rg_q = (select(resident_groups.c.resident_id, resident_groups.c.group_id)
            .join(AccessGroup, AccessGroup.id == resident_groups.c.group_id)
            .where(AccessGroup.site_id == site_id))
    if residents is not None:
        rg_q = rg_q.where(resident_groups.c.resident_id.in_(sorted(residents)))
    for rid, gid in (await session.execute(rg_q)).all():
        rg[rid].add(gid)
    card_q = select(CardCredential.card_number, CardCredential.resident_id, CardCredential.status,
                    CardCredential.valid_from, CardCredential.valid_until
                    ).where(CardCredential.site_id == site_id)
    if edge_ids is not None:
        # only the holders some of whose groups open a door of these edges
        wanted_doors = {d[0] for d in doors if d[1] in set(edge_ids)}
        wanted_groups = {g for g, ds in gd.items() if ds & wanted_doors}
        holders = sorted({r for r, gs in rg.items() if gs & wanted_groups})
        card_q = card_q.where(CardCredential.resident_id.in_(holders))
    elif residents is not None:
        card_q = card_q.where(CardCredential.resident_id.in_(sorted(residents)))
    cards = (await session.execute(card_q)).all()
    holidays = list(await session.scalars(
        select(Holiday.day).where(Holiday.site_id == site_id).order_by(Holiday.day)
    ))
    passback = (await session.execute(
        select(AntiPassbackPair.id, AntiPassbackPair.entry_door_id, AntiPassbackPair.exit_door_id,
               AntiPassbackPair.mode, AntiPassbackPair.reset_s)
        .where(AntiPassbackPair.site_id == site_id)
    )).all()
    return _Registry(
        site.timezone,
        [(eid, name) for eid, name in edges],
        [(did, eid, name, label, mode, us) for did, eid, name, label, mode, us in doors],
        schedules, groups, gd, rg,
        [(number, rid, status, vf, vu) for number, rid, status, vf, vu in cards],
        holidays,
        [(pid, entry, exit_, mode, reset) for pid, entry, exit_, mode, reset in passback],
        await load_site_grants(session, site_id),
    )


async def affected_edges(
    session: AsyncSession,
    *,
    residents: Iterable[int] = (),
    groups: Iterable[int] = (),
    doors: Iterable[int] = (),
    schedules: Iterable[int] = (),
) -> set[int]:
    """The edges whose snapshots a change to these rows can alter: the edges of the doors
    those residents' groups, those groups and those schedules' groups open, and of the doors
    themselves (a door's mode or unlock schedule)."""
    group_ids = set(groups)
    resident_ids = sorted(set(residents))
    if resident_ids:
        group_ids |= set(await session.scalars(
            select(resident_groups.c.group_id).where(resident_groups.c.resident_id.in_(resident_ids))
        ))
    schedule_ids = sorted(set(schedules))
    door_ids = set(doors)
    if schedule_ids:
        group_ids |= set(await session.scalars(select(AccessGroup.id).where(
            AccessGroup.schedule_id.in_(schedule_ids)
            | AccessGroup.holiday_schedule_id.in_(schedule_ids)
        )))
        door_ids |= set(await session.scalars(
            select(Door.id).where(Door.unlock_schedule_id.in_(schedule_ids))
        ))
    if group_ids:
        door_ids |= set(await session.scalars(
            select(group_doors.c.door_id).where(group_doors.c.group_id.in_(sorted(group_ids)))
        ))
    if not door_ids:
        return set()
    return set(await session.scalars(
        select(Door.edge_id).where(Door.id.in_(sorted(door_ids))).distinct()
    ))


_CARD = re.compile(r"^[0-9A-Za-z:_-]{1,64}$")
_STATUSES = frozenset(("active", "revoked", "lost", "suspended"))


def _card_ok(number: str, status: str) -> bool:
    """What wire.CardCredential would accept, checked without building 100,000 models."""
    return bool(_CARD.match(number)) and status in _STATUSES


_CARD_FIELDS = frozenset(WireCard.model_fields)
_new_card = WireCard.__new__
_set = object.__setattr__


def _card(fields: dict[str, Any]) -> WireCard:
    """`WireCard.model_construct(**fields)` for all fields given, at a third of its cost (it
    is most of a 100,000-card compile); tests/hub/test_compiler_cards.py holds them equal."""
    card = _new_card(WireCard)
    _set(card, "__dict__", fields)
    _set(card, "__pydantic_fields_set__", _CARD_FIELDS)
    _set(card, "__pydantic_extra__", None)
    _set(card, "__pydantic_private__", None)
    return card


def compile_edge(site_id: str, edge_id: int, edge_name: str, reg: _Registry) -> SnapshotContent:
    """The snapshot content for one edge, in a canonical order so equal content hashes equal."""
    my_doors = {d[0]: d for d in reg.doors if d[1] == edge_id}
    used_schedules: set[int] = set()
    door_infos = []
    for _, _, name, label, mode, unlock_sid in sorted(my_doors.values(), key=lambda d: d[2]):
        unlock = None
        if mode == "unlocked_on_schedule" and unlock_sid is not None:
            used_schedules.add(unlock_sid)
            unlock = reg.schedules[unlock_sid][0]
        door_infos.append(DoorInfo.model_validate(
            {"id": name, "name": label, "mode": mode, "unlock_schedule": unlock}))
    rules: list[AccessGroupRule] = []
    for gid in sorted(reg.groups):
        doors_here = reg.group_doors.get(gid, set()) & my_doors.keys()
        if not doors_here:
            continue
        sid, holiday_mode, holiday_sid = reg.groups[gid]
        if holiday_mode != "schedule":
            holiday_sid = None
        used_schedules.update(s for s in (sid, holiday_sid) if s is not None)
        rules.append(AccessGroupRule(
            id=gid,
            doors=sorted(my_doors[d][2] for d in doors_here),
            schedule=reg.schedules[sid][0] if sid is not None else None,
            holiday_mode=holiday_mode,  # type: ignore[arg-type]  # one of HolidayMode
            holiday_schedule=reg.schedules[holiday_sid][0] if holiday_sid is not None else None,
        ))
    group_ids = {r.id for r in rules}
    schedules = sorted(
        (WireSchedule.model_validate({"id": reg.schedules[s][0], "windows": reg.schedules[s][1]})
         for s in used_schedules),
        key=lambda s: s.id,
    )
    passback = [
        AntiPassbackRule(id=pid, entry=my_doors[entry][2], exit=my_doors[exit_][2],
                         mode=mode, reset_s=reset)  # type: ignore[arg-type]
        for pid, entry, exit_, mode, reset in sorted(reg.passback)
        if entry in my_doors and exit_ in my_doors
    ]
    credentials: list[WireCard] = []
    shared: dict[frozenset[int], list[int]] = {}
    for number, resident, status, valid_from, valid_until in reg.cards:
        groups = reg.resident_groups.get(resident)
        if not groups:
            continue
        mine = groups & group_ids
        if not mine:
            continue
        if not _card_ok(number, status):
            # One bad row must not take every door of the edge offline.
            log.error("card %r (status %r) of resident %s left out of %s/%s", number, status,
                      resident, site_id, edge_name)
            continue
        key = frozenset(mine)
        group_list = shared.get(key)
        if group_list is None:
            group_list = shared[key] = sorted(mine)
        # checked above; timestamps come from UTC columns (aware)
        credentials.append(_card({
            "card": number, "resident_id": resident, "status": status,
            "valid_from": valid_from, "valid_until": valid_until, "groups": group_list,
        }))
    signed = edge_grants(reg.signed, {d: my_doors[d][2] for d in my_doors},
                         reg.resident_groups, group_ids)
    credentials.extend(signed.credentials)
    credentials.sort(key=lambda c: c.card)
    return SnapshotContent.model_construct(
        site=site_id, edge=edge_name, timezone=reg.timezone, doors=door_infos,
        schedules=schedules, groups=[*signed.groups, *rules], credentials=credentials,
        holidays=list(reg.holidays), anti_passback=passback,
        hub_public_key=reg.hub_public_key, phone_keys=signed.phone_keys,
        visitor_passes=signed.visitor_passes, downlink_keys=list(reg.downlink_keys),
    )


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


def _merge(last: _Published, part: SnapshotContent, residents: set[int]) -> SnapshotContent | None:
    """`last` with the cards of `residents` replaced by those in `part` (compiled for just
    them), or None when anything but their cards differs."""
    if any(getattr(last.content, f) != getattr(part, f) for f in _HEAD):
        return None
    cards = {n: c for n, c in last.cards.items() if c.resident_id not in residents}
    for cred in part.credentials:
        cards[cred.card] = cred
    fields = {f: getattr(part, f) for f in _HEAD}
    return SnapshotContent.model_construct(
        **fields, credentials=[cards[n] for n in sorted(cards)])


@dataclass(frozen=True, slots=True)
class _Published:
    version: int
    hash: str
    content: SnapshotContent
    cards: dict[str, WireCard]  # by card number


_HEAD = tuple(sorted(set(SnapshotContent.model_fields) - {"credentials"}))


def _by_card(content: SnapshotContent) -> dict[str, WireCard]:
    return {c.card: c for c in content.credentials}


def _delta(
    last: _Published, base: tuple[int, str], content: SnapshotContent,
    cards: dict[str, WireCard], version: int, digest: str, issued_at: datetime,
) -> PermissionDelta | None:
    """The credentials changed since `last`, if `last` is the base the edge should hold (the
    version and hash the database had) and nothing but credentials changed; else None."""
    if (last.version, last.hash) != base:
        return None
    if any(getattr(last.content, f) != getattr(content, f) for f in _HEAD):
        return None
    old = last.cards
    upsert = [c for c in content.credentials
              if (o := old.get(c.card)) is None or (o is not c and o.__dict__ != c.__dict__)]
    remove = sorted(card for card in old if card not in cards)
    return PermissionDelta.model_construct(
        site=content.site, edge=content.edge, base_version=base[0], base_hash=base[1],
        version=version, hash=digest, issued_at=issued_at, upsert=upsert, remove=remove,
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
        downlink: DownlinkSigner,
    ) -> None:
        self._hub_public_key = hub_public_key  # every snapshot carries it for the edges
        self._downlink = downlink  # signs every snapshot and delta; its keys ride in them
        self._sessions = sessions
        self._mqtt = mqtt
        self._debounce_s = debounce_s
        self._publish_timeout_s = publish_timeout_s
        # site -> what to recompile
        self._pending: dict[str, _Scope] = {}
        self._wake = asyncio.Event()
        self._busy = publish_all_on_start
        self._publish_all_on_start = publish_all_on_start
        self._site_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # what this process last published per edge id, to send the next version as a delta
        self._last: dict[int, _Published] = {}
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
                await _lock_site(session, site_id)
                patched: dict[int, SnapshotContent] = {}
                if residents is not None and edges is not None:
                    patched = await self._patch(session, site_id, edges, residents)
                rest = None if edges is None else [e for e in edges if e not in patched]
                reg = await load_registry(session, site_id, rest) if rest != [] else None
                if reg is not None:
                    reg.hub_public_key = self._hub_public_key
                    reg.downlink_keys = self._downlink.public_keys
                todo = [(e, None) for e in sorted(patched, key=lambda e: patched[e].edge)]
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
        reg.downlink_keys = self._downlink.public_keys
        wanted = set(residents)
        out: dict[int, SnapshotContent] = {}
        for edge_id, edge_name in reg.edges:
            part = compile_edge(site_id, edge_id, edge_name, reg)
            content = await asyncio.to_thread(_merge, self._last[edge_id], part, wanted)
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
        version = await _bump_version(session, edge_id, digest)
        if version is None:
            if not force:
                return PublishResult(content.edge, await _current_version(session, edge_id),
                                     digest, False, len(content.credentials))
            version = await _current_version(session, edge_id)
        issued_at = utcnow()
        cards = await asyncio.to_thread(_by_card, content)
        last = self._last.pop(edge_id, None)
        if last is not None and base is not None and version == base[0] + 1:
            delta = await asyncio.to_thread(
                _delta, last, (base[0], base[1]), content, cards, version, digest, issued_at)
            if delta is not None:
                topic = topics.perm_delta(site_id, content.edge)
                await self._mqtt.publish(
                    topic, self._downlink.sign(topic, delta.model_dump_json().encode()), qos=1,
                    retain=False, timeout=self._publish_timeout_s,
                )
        topic = topics.perm(site_id, content.edge)
        # signing hashes the whole snapshot (tens of ms at 100,000 cards): off the loop
        payload = await asyncio.to_thread(
            self._downlink.sign, topic, sealed_payload(content_json, version, digest, issued_at))
        await self._mqtt.publish(
            topic, payload, qos=1, retain=True, timeout=self._publish_timeout_s,
        )
        self._last[edge_id] = _Published(version, digest, content, cards)
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
            sites, self._pending = self._pending, {}
            self._busy = True
            try:
                failed = await self._publish_many(sites)
            finally:
                self._busy = False
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


__all__ = [
    "PermissionPublisher", "PublishResult", "affected_edges", "compile_edge", "load_registry",
]
