"""The access log and the dead letters, newest first, with keyset paging.

Keyset rather than offset paging: pages stay stable while new events arrive, and each page
is an index range scan on (ts, id) however deep the reader goes.
"""

from __future__ import annotations

import base64
from typing import Literal

from aiohttp import web
from sqlalchemy import ColumnElement, and_, false, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import ADMIN_ROLES, HOUSEHOLD_ROLES
from hub.api.endpoints import EndpointTable
from hub.api.paging import decode_cursor, encode_cursor
from hub.api.schemas import (
    AccessEventOut,
    AccessEventPage,
    AccessEventQuery,
    DeadLetterOut,
    DeadLetterPage,
    DeadLetterQuery,
)
from hub.api.scope import scope_of
from hub.api.store import reading
from hub.models import AccessEvent, Building, DeadLetter, Edge, Resident

routes = EndpointTable(tag="events")


@routes.get(
    "/access-events", query=AccessEventQuery, response=AccessEventPage, roles=HOUSEHOLD_ROLES
)
async def list_access_events(request: web.Request, query: AccessEventQuery) -> AccessEventPage:
    """The access log, newest first; pass `next_cursor` back as `cursor` for the next page.
    Staff see their site's; a resident sees their own household's entries."""
    scope = scope_of(request)
    scope.claim_site(query.site)
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
    if query.cursor is not None:
        ts, last_id = decode_cursor(query.cursor, str)  # checked by the query model
        # a row comparison: an index bound on (…, ts, id), where OR would be a filter
        stmt = stmt.where(tuple_(AccessEvent.ts, AccessEvent.id) < tuple_(ts, last_id))
    # one extra row tells whether another page follows
    stmt = stmt.order_by(AccessEvent.ts.desc(), AccessEvent.id.desc()).limit(query.limit + 1)
    async with reading(request) as session:
        if query.building is not None:
            stmt = stmt.where(*await _building_edges(session, query.building))
        rows = list(await session.scalars(stmt))
    page, more = rows[: query.limit], len(rows) > query.limit
    return AccessEventPage(
        items=[
            AccessEventOut(
                id=e.id,
                ts=e.ts,
                site=e.site_id,
                edge=e.edge,
                door=e.door,
                credential_type=e.credential_type,
                credential=e.credential,
                resident_id=e.resident_id,
                result=e.result,
                reason=e.reason,
                decision_us=e.decision_us,
                malformed=e.malformed,
            )
            for e in page
        ],
        next_cursor=encode_cursor(page[-1].ts, page[-1].id) if more else None,
    )


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
