"""The access log and the dead letters, newest first, with keyset paging.

Keyset rather than offset paging: pages stay stable while new events arrive, and each page
is an index range scan on (ts, id) however deep the reader goes.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from aiohttp import web
from sqlalchemy import ColumnElement, Select, and_, false, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.access.schemas import (
    AccessEventOut,
    AccessEventPage,
    AccessEventQuery,
    DeadLetterOut,
    DeadLetterPage,
    DeadLetterQuery,
)
from hub.api.core.auth import ADMIN_ROLES, HOUSEHOLD_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.paging import decode_cursor, encode_cursor
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading
from hub.credentials.uses import PREFIX as PASS_PREFIX
from hub.models import (
    AccessEvent,
    Building,
    CardCredential,
    DeadLetter,
    Door,
    Edge,
    Resident,
    VisitorPass,
)
from hub.texts import reader_language, render_or

routes = EndpointTable(tag="events")


# An export is at most this many rows (newest first): a year of a large compound's denials,
# a few weeks of everything; narrow the window for more.
MAX_EXPORT_ROWS = 100_000
_EXPORT_BATCH = 1000
CSV_COLUMNS = ("time", "door", "door_name", "person", "person_kind", "credential_type",
               "credential", "result", "reason", "edge", "site", "id")


@routes.get(
    "/access-events", query=AccessEventQuery, response=AccessEventPage, roles=HOUSEHOLD_ROLES,
    produces=("text/csv",),
)
async def list_access_events(request: web.Request, query: AccessEventQuery
                             ) -> AccessEventPage | web.StreamResponse:
    """The access log, newest first; pass `next_cursor` back as `cursor` for the next page;
    `format=csv` for all matching rows (up to 100,000) as a CSV file.
    Staff see their site's; a resident sees their own household's entries. Each row names the
    door and the person: the resident (also on a refusal of a card the registry knows) or the
    visitor of a pass."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    async with reading(request) as session:
        stmt = await _filtered(session, scope, query)
        if query.format == "csv":
            return await _export(request, session, stmt)
        if query.cursor is not None:
            ts, last_id = decode_cursor(query.cursor, str)  # checked by the query model
            stmt = stmt.where(_before(ts, last_id))
        # one extra row tells whether another page follows
        rows = list(await session.scalars(_newest_first(stmt).limit(query.limit + 1)))
        page, more = rows[: query.limit], len(rows) > query.limit
        items = await _named(session, page)
    return AccessEventPage(
        items=items,
        next_cursor=encode_cursor(page[-1].ts, page[-1].id) if more else None,
    )


def _before(ts: datetime, last_id: str) -> ColumnElement[bool]:
    # a row comparison: an index bound on (…, ts, id), where OR would be a filter; the plain
    # bound on ts beside it lets PostgreSQL skip the later months' partitions (it prunes on
    # no row comparison)
    mark = tuple_(literal(ts, AccessEvent.ts.type), literal(last_id, AccessEvent.id.type))
    return and_(AccessEvent.ts <= ts, tuple_(AccessEvent.ts, AccessEvent.id) < mark)


def _newest_first(stmt: Select[AccessEvent]) -> Select[AccessEvent]:
    return stmt.order_by(AccessEvent.ts.desc(), AccessEvent.id.desc())


async def _filtered(session: AsyncSession, scope: Scope, query: AccessEventQuery
                    ) -> Select[AccessEvent]:
    if scope.is_resident:
        # the household's residents first: an index lookup per resident, where a household
        # subquery per event would test every event of the log
        household = scope.household_id
        stmt = select(AccessEvent).where(AccessEvent.resident_id.in_(
            select(Resident.id).where(Resident.household_id == household))
            if household is not None else false())
    else:
        stmt = select(AccessEvent).where(scope.where(AccessEvent.site_id))
    for column, value in (
        (AccessEvent.site_id, query.site),
        (AccessEvent.door, query.door),
        (AccessEvent.resident_id, query.resident_id),
        (AccessEvent.result, query.result),
        (AccessEvent.reason, query.reason),
        (AccessEvent.credential, query.credential),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.since is not None:
        stmt = stmt.where(AccessEvent.ts >= query.since)
    if query.until is not None:
        stmt = stmt.where(AccessEvent.ts < query.until)
    if query.malformed is not None:
        flagged = AccessEvent.malformed.isnot(None)
        stmt = stmt.where(flagged if query.malformed else ~flagged)
    if query.building is not None:
        stmt = stmt.where(*await _building_edges(session, query.building))
    if query.q is not None:
        stmt = stmt.where(await _search(session, scope, query.q, query.site))
    return stmt


# how many people a name search may match; a longer list asks for a more precise name
_MAX_MATCHES = 500


async def _search(session: AsyncSession, scope: Scope, text: str, site: str | None
                  ) -> ColumnElement[bool]:
    """Events of the residents or visitors whose name contains `text` (their cards too, for
    refusals the edge could not name), or of the credential `text` itself: each an index
    lookup (resident_id, credential), never a scan of the log. With a site asked for, only
    its people: an admin's search would otherwise scan every site's residents, and their
    namesakes elsewhere could fill the match list."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    in_site = [] if site is None else [Resident.site_id == site]
    residents = list(await session.scalars(
        select(Resident.id).where(scope.where(Resident.site_id, Resident.household_id),
                                  *in_site, Resident.name.ilike(pattern, escape="\\"))
        .order_by(Resident.id).limit(_MAX_MATCHES)))
    credentials = {text}
    if residents:
        credentials.update(await session.scalars(
            select(CardCredential.card_number).where(CardCredential.resident_id.in_(residents))
            .limit(_MAX_MATCHES)))
    if not scope.is_resident:
        passes = await session.scalars(
            select(VisitorPass.id).where(scope.where(VisitorPass.site_id),
                                         *([] if site is None else [VisitorPass.site_id == site]),
                                         VisitorPass.visitor_name.ilike(pattern, escape="\\"))
            .order_by(VisitorPass.id.desc()).limit(_MAX_MATCHES))
        credentials.update(f"{PASS_PREFIX}{pass_id}" for pass_id in passes)
    matches = [AccessEvent.credential.in_(sorted(credentials))]
    if residents:
        matches.append(AccessEvent.resident_id.in_(residents))
    return or_(*matches)


async def _named(session: AsyncSession, events: Sequence[AccessEvent]) -> list[AccessEventOut]:
    """The events with their door's name and the person: the resident the edge named, else
    the owner of a card the registry knows (a refusal of a suspended card, say), else the
    visitor of a pass."""
    sites = {e.site_id for e in events}
    doors: dict[tuple[str, str], str] = {}
    residents: dict[int, str] = {}
    card_owner: dict[tuple[str, str], int] = {}
    visitors: dict[int, str] = {}
    if events:
        doors = {(site, name): label for site, name, label in (await session.execute(
            select(Door.site_id, Door.name, Door.label).where(
                Door.site_id.in_(sites), Door.name.in_({e.door for e in events})))).all()}
        cards = {e.credential for e in events
                 if e.resident_id is None and e.credential_type == "card"}
        if cards:
            card_owner = {(site, number): rid for site, number, rid in (await session.execute(
                select(CardCredential.site_id, CardCredential.card_number,
                       CardCredential.resident_id).where(
                    CardCredential.site_id.in_(sites), CardCredential.card_number.in_(cards))
                .order_by(CardCredential.id))).all()}
        ids = {e.resident_id for e in events if e.resident_id is not None}
        ids.update(card_owner.values())
        if ids:
            residents = dict((await session.execute(
                select(Resident.id, Resident.name).where(Resident.id.in_(ids)))).all())
        passes = {pass_id for e in events if (pass_id := _pass_id(e)) is not None}
        if passes:
            visitors = dict((await session.execute(
                select(VisitorPass.id, VisitorPass.visitor_name).where(
                    VisitorPass.id.in_(passes), VisitorPass.site_id.in_(sites)))).all())
    out = []
    for e in events:
        resident_id = e.resident_id
        if resident_id is None and e.credential_type == "card":
            resident_id = card_owner.get((e.site_id, e.credential))
        person: str | None = None
        kind: Literal["resident", "visitor"] | None = None
        if resident_id is not None and resident_id in residents:
            person, kind = residents[resident_id], "resident"
        elif (pass_id := _pass_id(e)) is not None and pass_id in visitors:
            person, kind = visitors[pass_id], "visitor"
        out.append(AccessEventOut(
            id=e.id, ts=e.ts, site=e.site_id, edge=e.edge, door=e.door,
            door_name=doors.get((e.site_id, e.door)) or None,
            credential_type=e.credential_type, credential=e.credential,
            resident_id=e.resident_id, person=person, person_kind=kind,
            person_resident_id=resident_id if kind == "resident" else None,
            result=e.result, reason=e.reason, decision_us=e.decision_us, malformed=e.malformed,
        ))
    return out


def _pass_id(e: AccessEvent) -> int | None:
    if e.credential_type != "visitor_pass" or not e.credential.startswith(PASS_PREFIX):
        return None
    digits = e.credential[len(PASS_PREFIX):]
    return int(digits) if digits.isdigit() and len(digits) < 10 else None


async def _export(request: web.Request, session: AsyncSession,
                  stmt: Select[AccessEvent]) -> web.StreamResponse:
    """All matching rows as CSV (UTF-8 with a BOM, so spreadsheets read the Chinese names),
    its column heads and words in the reader's language, fetched and written a batch at a time
    by the same keyset paging."""
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="access-events.csv"',
        "Cache-Control": "no-store"})
    await resp.prepare(request)
    lang = reader_language()  # Accept-Language, else the console's language cookie

    def text(code: str, fallback: str) -> str:
        return render_or(code, None, lang, fallback)

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([text(f"access_csv.{column}", column) for column in CSV_COLUMNS])
    written, after = 0, None
    while written < MAX_EXPORT_ROWS:
        batch_stmt = stmt if after is None else stmt.where(_before(*after))
        limit = min(_EXPORT_BATCH, MAX_EXPORT_ROWS - written)
        batch = list(await session.scalars(_newest_first(batch_stmt).limit(limit)))
        for e in await _named(session, batch):
            kind = text(f"access_person.{e.person_kind}", e.person_kind) if e.person_kind else ""
            writer.writerow((e.ts.isoformat(), e.door, e.door_name or "", e.person or "", kind,
                             e.credential_type, _cell(e.credential),
                             text(f"access_result.{e.result}", e.result),
                             text(f"access_reason.{e.reason}", e.reason), e.edge, e.site, e.id))
        await resp.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        written += len(batch)
        if len(batch) < limit:
            break
        after = (batch[-1].ts, batch[-1].id)
    await resp.write_eof()
    return resp


def _cell(text: str) -> str:
    """A value a spreadsheet would run as a formula is kept as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def _building_edges(session: AsyncSession, building_id: int) -> list[ColumnElement[bool]]:
    """The building's site and edges; an unknown building matches nothing, like an unknown
    door (and one in another site is cut off by the scope's site filter)."""
    site = await session.scalar(select(Building.site_id).where(Building.id == building_id))
    if site is None:
        return [false()]
    edges = select(Edge.name).where(Edge.site_id == site, Edge.building_id == building_id)
    return [AccessEvent.site_id == site, AccessEvent.edge.in_(list(await session.scalars(edges)))]


def _payload_text(payload: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"


@routes.get("/dead-letters", query=DeadLetterQuery, response=DeadLetterPage, roles=ADMIN_ROLES)
async def list_dead_letters(request: web.Request, query: DeadLetterQuery) -> DeadLetterPage:
    """Messages the hub refused, with the reason, newest first (admin: they belong to no
    site, and may carry anyone's data)."""
    stmt = select(DeadLetter)
    if query.cursor is not None:
        ts, last_seen = decode_cursor(query.cursor, int)
        stmt = stmt.where(
            or_(
                DeadLetter.received_at < ts,
                and_(DeadLetter.received_at == ts, DeadLetter.id < last_seen),
            )
        )
    stmt = stmt.order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(query.limit + 1)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
    page, more = rows[: query.limit], len(rows) > query.limit
    items = []
    for d in page:
        text, encoding = _payload_text(d.payload)
        items.append(
            DeadLetterOut(
                id=d.id,
                received_at=d.received_at,
                topic=d.topic,
                payload=text,
                payload_encoding=encoding,
                reason=d.reason,
            )
        )
    return DeadLetterPage(
        items=items,
        next_cursor=encode_cursor(page[-1].received_at, page[-1].id) if more else None,
    )
