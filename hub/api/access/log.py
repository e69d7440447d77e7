"""The access log and the dead letters, newest first, with keyset paging.

Keyset rather than offset paging: pages stay stable while new events arrive, and each page
is an index range scan on (ts, id) however deep the reader goes.
"""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web
from sqlalchemy import (
    ColumnElement,
    Integer,
    Label,
    Row,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
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
from hub.api.core.paging import decode_cursor, encode_cursor, newest_first, page_of
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import autocommit, reading
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
    utcnow,
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
        await autocommit(session)
        stmt = await _filtered(session, scope, query)
        if query.format == "csv":
            return await _export(request, session, stmt)
        upper = query.until
        if query.cursor is not None:
            ts, last_id = decode_cursor(query.cursor, str)  # checked by the query model
            stmt = stmt.where(_before(ts, last_id))
            upper = ts
        # one extra row tells whether another page follows
        if query.q is not None or scope.is_resident:
            rows = await _newest_matches(session, stmt, query.limit + 1, upper, query.since)
        else:
            rows = await _named_page(session, stmt, query.limit + 1)
    page, more = rows[: query.limit], len(rows) > query.limit
    return AccessEventPage(
        items=[_out(row) for row in page],
        next_cursor=encode_cursor(page[-1].ts, page[-1].id) if more else None,
    )


def _before(ts: datetime, last_id: str) -> ColumnElement[bool]:
    # a row comparison: an index bound on (…, ts, id), where OR would be a filter; the plain
    # bound on ts beside it lets PostgreSQL skip the later months' partitions (it prunes on
    # no row comparison)
    mark = tuple_(literal(ts, AccessEvent.ts.type), literal(last_id, AccessEvent.id.type))
    return and_(AccessEvent.ts <= ts, tuple_(AccessEvent.ts, AccessEvent.id) < mark)


def _newest_first(stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return stmt.order_by(AccessEvent.ts.desc(), AccessEvent.id.desc())


async def _filtered(session: AsyncSession, scope: Scope, query: AccessEventQuery
                    ) -> Select[*tuple[Any, ...]]:
    stmt: Select[*tuple[Any, ...]]
    if scope.is_resident:
        # the household's residents first: an index lookup per resident, where a household
        # subquery per event would test every event of the log
        household = scope.household_id
        stmt = select(*_COLUMNS).where(AccessEvent.resident_id.in_(
            select(Resident.id).where(Resident.household_id == household))
            if household is not None else false())
    else:
        stmt = select(*_COLUMNS).where(scope.where(AccessEvent.site_id))
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


# The log's own columns: rows, not ORM objects (no identity map to fill for a page read once).
_COLUMNS = (AccessEvent.id, AccessEvent.ts, AccessEvent.site_id, AccessEvent.edge,
            AccessEvent.door, AccessEvent.credential_type, AccessEvent.credential,
            AccessEvent.resident_id, AccessEvent.result, AccessEvent.reason,
            AccessEvent.decision_us, AccessEvent.malformed)


def _name_lookups() -> tuple[Label[Any], ...]:
    """The names of an event, each looked up by index: the door by site and name, the card's
    owner by site and number, the resident and the pass by id. Built once (building them per
    request cost more hub CPU than the queries they replace); each correlates to the event
    by name, nested ones too (SQLAlchemy correlates only to the immediately enclosing query
    by itself)."""
    event = AccessEvent.__table__
    card_owner = (select(CardCredential.resident_id)
                  .where(CardCredential.site_id == AccessEvent.site_id,
                         CardCredential.card_number == AccessEvent.credential)
                  .limit(1).correlate(event).scalar_subquery())
    person_id = case((AccessEvent.resident_id.is_not(None), AccessEvent.resident_id),
                     (AccessEvent.credential_type == "card", card_owner))
    # "pass:<digits>" (at most 9: an int column) names a pass; anything else names none
    digits = func.substr(AccessEvent.credential, len(PASS_PREFIX) + 1)
    pass_id = case((and_(AccessEvent.credential_type == "visitor_pass",
                         func.substr(AccessEvent.credential, 1, len(PASS_PREFIX)) == PASS_PREFIX,
                         func.length(digits).between(1, 9),
                         func.ltrim(digits, "0123456789") == ""),
                    cast(digits, Integer)))
    return (
        select(Door.label).where(Door.site_id == AccessEvent.site_id,
                                 Door.name == AccessEvent.door)
        .correlate(event).scalar_subquery().label("door_name"),
        person_id.label("person_id"),
        select(Resident.name).where(Resident.id == person_id)
        .correlate(event).scalar_subquery().label("resident_name"),
        select(VisitorPass.visitor_name).where(VisitorPass.id == pass_id,
                                               VisitorPass.site_id == AccessEvent.site_id)
        .correlate(event).scalar_subquery().label("visitor_name"),
    )


_NAMES = _name_lookups()


async def _named_page(session: AsyncSession, stmt: Select[*tuple[Any, ...]], limit: int) -> list[Row[Any]]:
    """The first `limit` events of `stmt`, newest first, each with its door's name and the
    person: the resident the edge named, else the owner of a card the registry knows (a
    refusal of a suspended card, say), else the visitor of a pass. One statement: the
    lookups sit in its select list, which PostgreSQL evaluates only for the rows the limit
    keeps (after a sort, when the plan sorts); the log's own plan is unchanged."""
    named = _newest_first(stmt.add_columns(*_NAMES)).limit(limit)
    # Core, not the ORM's execution path: plain rows are all a page needs
    connection = await session.connection()
    return list(await connection.execute(named))


# The windows a search looks back through, newest first, before the whole log.
_WINDOWS = (timedelta(days=31), timedelta(days=92), timedelta(days=366))


async def _newest_matches(session: AsyncSession, stmt: Select[*tuple[Any, ...]], limit: int,
                          upper: datetime | None, since: datetime | None) -> list[Row[Any]]:
    """A page of a few people's events (a name search, a household): PostgreSQL fetches
    every one of their events in every month, then sorts them for the newest (10,000 rows
    for a common name over two years: a second and more from disk). Looked for in the last
    month first, then the last year, then all: a window holding a full page holds the
    newest, as everything outside it is older."""
    end = upper or utcnow()
    for window in _WINDOWS:
        start = end - window
        if since is not None and start <= since:
            break
        rows = await _named_page(session, stmt.where(AccessEvent.ts >= start), limit)
        if len(rows) >= limit:
            return rows
    return await _named_page(session, stmt, limit)


def _person(row: Row[Any]) -> tuple[str | None, Literal["resident", "visitor"] | None]:
    if row.resident_name is not None:
        return row.resident_name, "resident"
    if row.visitor_name is not None:
        return row.visitor_name, "visitor"
    return None, None


def _out(row: Row[Any]) -> AccessEventOut:
    person, kind = _person(row)
    return AccessEventOut(
        id=row.id, ts=row.ts, site=row.site_id, edge=row.edge, door=row.door,
        door_name=row.door_name or None,
        credential_type=row.credential_type, credential=row.credential,
        resident_id=row.resident_id, person=person, person_kind=kind,
        person_resident_id=row.person_id if kind == "resident" else None,
        result=row.result, reason=row.reason, decision_us=row.decision_us,
        malformed=row.malformed,
    )


async def _export(request: web.Request, session: AsyncSession,
                  stmt: Select[*tuple[Any, ...]]) -> web.StreamResponse:
    """All matching rows as CSV (UTF-8 with a BOM, so spreadsheets read the Chinese names),
    its column heads and words in the reader's language, fetched and written a batch at a time
    by the same keyset paging."""
    resp = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="access-events.csv"',
        "Cache-Control": "no-store"})
    await resp.prepare(request)
    lang = reader_language()  # Accept-Language, else the console's language cookie

    words: dict[str, str] = {}  # a few codes (results, reasons, kinds), each rendered once

    def text(code: str, fallback: str) -> str:
        word = words.get(code)
        if word is None:
            word = words[code] = render_or(code, None, lang, fallback)
        return word

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([text(f"access_csv.{column}", column) for column in CSV_COLUMNS])
    written, after = 0, None
    while written < MAX_EXPORT_ROWS:
        batch_stmt = stmt if after is None else stmt.where(_before(*after))
        limit = min(_EXPORT_BATCH, MAX_EXPORT_ROWS - written)
        batch = await _named_page(session, batch_stmt, limit)
        for e in batch:  # the rows as they come: no answer model to build for a CSV line
            person, kind = _person(e)
            writer.writerow((e.ts.isoformat(), e.door, e.door_name or "", person or "",
                             text(f"access_person.{kind}", kind) if kind else "",
                             e.credential_type, _cell(e.credential),
                             text(f"access_result.{e.result}", e.result),
                             text(f"access_reason.{e.reason}", e.reason), e.edge, e.site_id,
                             e.id))
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
    stmt = newest_first(select(DeadLetter), DeadLetter.received_at, DeadLetter.id, query.cursor,
                        int, query.limit)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
    page, next_cursor = page_of(rows, query.limit, lambda d: (d.received_at, d.id))
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
    return DeadLetterPage(items=items, next_cursor=next_cursor)
