"""Visitor passes: issued by a resident for their own unit, or by staff; revocable.

A pass is delivered as a QR image (in the answer, at `/visitor-passes/{id}/qr.png`, and at a
share link the visitor opens without logging in). The image and the share link open the door,
so only those who hand passes out get them: the guard desk, managers, admins and the residents
of the host unit; a technician may read the list but gets neither. The doors decide a pass
offline from the permission snapshot; each use is counted at the edge and recorded here from
its access event.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hub.api.core.auth import OPERATOR_ROLES, STAFF_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError
from hub.api.core.keys import CURRENT_USER
from hub.api.core.paging import decode_cursor, encode_cursor, like
from hub.api.core.schemas import ErrorOut
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.credentials.schemas import (
    ShareQuery,
    VisitorPassCreate,
    VisitorPassIssued,
    VisitorPassList,
    VisitorPassOut,
    VisitorPassQuery,
)
from hub.api.credentials.signed import my_resident, row_id, signer
from hub.api.registry.labels import unit_labels
from hub.credentials.qr import CONTENT_TYPES, render
from hub.models import Building, Door, Unit, VisitorPass
from wire.floors import floor_list

routes = EndpointTable(tag="visitor-passes")
ISSUERS = frozenset({"admin", "company_admin", "manager", "guard", "resident"})
READERS = STAFF_ROLES | {"resident"}
# who may hold a pass's QR image and share link (a resident: of the host unit only)
HOLDERS = OPERATOR_ROLES | {"resident"}
_ITEM = r"/visitor-passes/{id:\d+}"
_SHARE = "/visitor-passes/shared.png"


def _pass_out(request: web.Request, vp: VisitorPass, labels: dict[int, str]) -> VisitorPassOut:
    base = f"{request.url.origin()}/api/v1/visitor-passes"
    holder = request[CURRENT_USER].role in HOLDERS
    return VisitorPassOut(
        id=vp.id, site_id=vp.site_id, unit_id=vp.unit_id,
        unit_label=labels.get(vp.unit_id, f"#{vp.unit_id}"), visitor_name=vp.visitor_name,
        visitor_phone=vp.visitor_phone, doors=sorted(d.name for d in vp.doors),
        valid_from=vp.valid_from, valid_until=vp.valid_until, max_uses=vp.max_uses,
        uses=vp.uses, floors=vp.floors or [], status=vp.status,
        created_at=vp.created_at, revoked_at=vp.revoked_at,
        qr_url=f"{base}/{vp.id}/qr.png" if holder else None,
        share_url=f"{base}/shared.png?code={vp.share_code}" if holder else None,
    )


async def _load(session: AsyncSession, pass_id: int) -> VisitorPass | None:
    return await session.scalar(
        select(VisitorPass).options(selectinload(VisitorPass.doors))
        .where(VisitorPass.id == pass_id).execution_options(populate_existing=True)
    )


async def _sees(request: web.Request, session: AsyncSession, site_id: str, unit_id: int) -> bool:
    """Staff see their scope's site(s); a resident the unit of the resident they act as."""
    scope = scope_of(request)
    if scope.is_resident:
        return (await my_resident(request, session)).unit_id == unit_id
    return scope.sees(site_id)


async def _visible(request: web.Request, session: AsyncSession, pass_id: int) -> VisitorPass:
    """The pass, if this user may see it; else 404, as for one that does not exist."""
    vp = await _load(session, pass_id)
    if vp is None or not await _sees(request, session, vp.site_id, vp.unit_id):
        raise NotFoundError("visitor pass", pass_id)
    return vp


@routes.post("/visitor-passes", body=VisitorPassCreate, response=VisitorPassIssued, status=201,
             roles=ISSUERS)
async def issue_visitor_pass(request: web.Request, body: VisitorPassCreate) -> VisitorPassIssued:
    """Issue a visitor pass (a resident for their own unit; a guard, manager or admin for a
    unit of their site)."""
    user = request[CURRENT_USER]
    async with writing(request) as change:
        session = change.session
        found = (await session.execute(
            select(Unit, Building.site_id).join(Building, Building.id == Unit.building_id)
            .where(Unit.id == body.unit_id)
        )).first()
        # a unit outside the scope is as unknown as one that does not exist
        if found is None or not await _sees(request, session, found[1], body.unit_id):
            raise InvalidError.unknown("unit_id", "unit", body.unit_id)
        site_id = found[1]
        doors = list(await session.scalars(
            select(Door).where(Door.site_id == site_id, Door.name.in_(body.doors))
        ))
        missing = sorted(set(body.doors) - {d.name for d in doors})
        if missing:
            raise InvalidError.unknown("doors", "door", ", ".join(missing),
                                       f"no such door in site {site_id!r}: {missing}")
        unit_floors = [found[0].floor] if found[0].floor else []
        floors = unit_floors if body.floors is None else floor_list(body.floors)
        if scope_of(request).is_resident and not set(floors) <= set(unit_floors):
            raise InvalidError.one("floors", f"a resident's pass enables only the host unit's "
                                   f"floor {unit_floors}, not {floors}", "invalid.pass_floors")
        vp = VisitorPass(
            floors=floors, site_id=site_id, unit_id=body.unit_id, visitor_name=body.visitor_name,
            visitor_phone=body.visitor_phone, valid_from=body.valid_from,
            valid_until=body.valid_until, max_uses=body.max_uses, uses=0, status="active",
            share_code=secrets.token_urlsafe(24), issued_by=user.id, doors=doors,
        )
        session.add(vp)
        await session.flush()
        change.sites.add(site_id)
        loaded = await _load(session, vp.id)
        assert loaded is not None  # written in this very transaction
        out = _pass_out(request, loaded, await unit_labels(session, {loaded.unit_id}))
        window = (loaded.id, loaded.valid_from, loaded.valid_until)
    token = signer(request).visitor_pass(*window)
    png = base64.b64encode(render(token.text, "png")).decode()
    return VisitorPassIssued(**out.model_dump(), token=token.text, qr_png_base64=png)


def _state(stmt: Any, state: str | None, now: datetime) -> Any:
    """Passes in `state` as the desk reads it (the console's words for a pass)."""
    live = VisitorPass.status == "active"
    if state == "revoked":
        return stmt.where(VisitorPass.status == "revoked")
    if state == "expired":
        return stmt.where(live, VisitorPass.valid_until <= now)
    if state == "used_up":
        return stmt.where(live, VisitorPass.valid_until > now, VisitorPass.uses >= VisitorPass.max_uses)
    if state == "in_force":
        return stmt.where(live, VisitorPass.valid_until > now, VisitorPass.uses < VisitorPass.max_uses)
    return stmt


@routes.get("/visitor-passes", query=VisitorPassQuery, response=VisitorPassList, roles=READERS)
async def list_visitor_passes(request: web.Request, query: VisitorPassQuery) -> VisitorPassList:
    """Visitor passes, newest first, a page at a time (pass `next_cursor` back as `cursor`):
    staff their site's, a resident their own unit's; filtered by unit, building, state and
    when issued, searched by the visitor's name or phone."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(VisitorPass).options(selectinload(VisitorPass.doors))
    for column, value in ((VisitorPass.site_id, query.site_id), (VisitorPass.unit_id, query.unit_id),
                          (VisitorPass.status, query.status)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.building_id is not None:
        stmt = stmt.where(VisitorPass.unit_id.in_(
            select(Unit.id).where(Unit.building_id == query.building_id)))
    stmt = _state(stmt, query.state, datetime.now(UTC))
    if query.q is not None:
        pattern = like(query.q.strip())
        stmt = stmt.where(or_(VisitorPass.visitor_name.ilike(pattern, escape="\\"),
                              VisitorPass.visitor_phone.ilike(pattern, escape="\\")))
    if query.since is not None:
        stmt = stmt.where(VisitorPass.created_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(VisitorPass.created_at < query.until)
    if query.cursor is not None:  # ids grow as passes are issued: the key alone orders them
        _, last_id = decode_cursor(query.cursor, int)
        stmt = stmt.where(VisitorPass.id < last_id)
    stmt = stmt.order_by(VisitorPass.id.desc()).limit(query.limit + 1)
    async with reading(request) as session:
        if scope.is_resident:
            resident = await my_resident(request, session)
            stmt = stmt.where(VisitorPass.unit_id == resident.unit_id)
        else:
            stmt = stmt.where(scope.where(VisitorPass.site_id))
        rows = list(await session.scalars(stmt))
        page, more = rows[:query.limit], len(rows) > query.limit
        labels = await unit_labels(session, {vp.unit_id for vp in page})
    return VisitorPassList(
        items=[_pass_out(request, vp, labels) for vp in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None)


@routes.get(_ITEM, response=VisitorPassOut, roles=READERS)
async def get_visitor_pass(request: web.Request) -> VisitorPassOut:
    """One visitor pass, with the uses recorded so far."""
    async with reading(request) as session:
        vp = await _visible(request, session, row_id(request, "visitor pass"))
        return _pass_out(request, vp, await unit_labels(session, {vp.unit_id}))


@routes.post(_ITEM + "/revoke", response=VisitorPassOut, roles=READERS - {"technician"})
async def revoke_visitor_pass(request: web.Request) -> VisitorPassOut:
    """Revoke a pass: the doors refuse it (pass_revoked) once the edge has the new snapshot."""
    async with writing(request) as change:
        vp = await _visible(request, change.session, row_id(request, "visitor pass"))
        if vp.status != "revoked":
            vp.status = "revoked"
            vp.revoked_at = datetime.now(UTC)
            change.sites.add(vp.site_id)
        await change.session.flush()
        return _pass_out(request, vp, await unit_labels(change.session, {vp.unit_id}))


@routes.get(_ITEM + "/qr.png", roles=HOLDERS, produces=(CONTENT_TYPES["png"],),
            errors={409: ErrorOut})
async def visitor_pass_qr(request: web.Request) -> web.Response:
    """The pass's QR code (PNG): for the guard desk, managers and the host unit's residents;
    409 once the pass is revoked (the doors refuse it: a code to show would mislead)."""
    async with reading(request) as session:
        vp = await _visible(request, session, row_id(request, "visitor pass"))
    if vp.status == "revoked":
        raise ConflictError(f"visitor pass {vp.id} is revoked: its code opens no door",
                            ("error.pass_revoked", {"id": vp.id}))
    return _qr_png(request, vp)


@routes.get(_SHARE, query=ShareQuery, public=True, produces=(CONTENT_TYPES["png"],))
async def shared_visitor_pass_qr(request: web.Request, query: ShareQuery) -> web.Response:
    """The pass's QR code for the visitor, by the share link's code (no login)."""
    async with reading(request) as session:
        vp = await session.scalar(
            select(VisitorPass).where(VisitorPass.share_code == query.code)
        )
    if vp is None or vp.status != "active":
        raise NotFoundError("visitor pass", "of this link")
    return _qr_png(request, vp)


def _qr_png(request: web.Request, vp: VisitorPass) -> web.Response:
    token = signer(request).visitor_pass(vp.id, vp.valid_from, vp.valid_until)
    return web.Response(body=render(token.text, "png"), content_type=CONTENT_TYPES["png"],
                        headers={"Cache-Control": "no-store"})
