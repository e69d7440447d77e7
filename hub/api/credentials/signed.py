"""A resident's own signed credentials: the rotating QR code and Bluetooth phone keys.

These `/me` endpoints are for a login with role `resident` linked to a resident
(`resident_accounts`); staff use the registry endpoints instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, ForbiddenError, NotFoundError
from hub.api.core.keys import CURRENT_USER, SIGNER
from hub.api.core.store import reading, writing
from hub.api.credentials.schemas import (
    PhoneKeyCreate,
    PhoneKeyList,
    PhoneKeyOut,
    QrOut,
    QrQuery,
)
from hub.credentials.qr import CONTENT_TYPES, render
from hub.credentials.signing import QR_PERIOD_S, TokenSigner
from hub.models import PhoneKey, Resident, ResidentAccount

routes = EndpointTable(tag="me")
RESIDENT = frozenset({"resident"})


def row_id(request: web.Request, what: str) -> int:
    """The path's `{id}`; one no row can have (past int32) is simply not found."""
    value = path_id(request, what)
    if value > 2**31 - 1:
        raise NotFoundError(what, value)
    return value


def signer(request: web.Request) -> TokenSigner:
    return cast(TokenSigner, request.app[SIGNER])


async def my_resident(request: web.Request, session: AsyncSession) -> Resident:
    """The resident the logged-in user acts as; 403 when the login is linked to none."""
    user = request[CURRENT_USER]
    link = await session.get(ResidentAccount, user.id)
    resident = None if link is None else await session.get(Resident, link.resident_id)
    if resident is None:
        raise ForbiddenError(f"login {user.username!r} is not linked to a resident")
    return resident


@routes.get("/me/qr", query=QrQuery, response=QrOut, roles=RESIDENT,
            produces=("application/json", CONTENT_TYPES["png"], CONTENT_TYPES["svg"]))
async def my_qr(request: web.Request, query: QrQuery) -> QrOut | web.Response:
    """My door QR code: a signed token that changes every 30 s (JSON, PNG or SVG)."""
    async with reading(request) as session:
        resident = await my_resident(request, session)
    now = datetime.now(UTC)
    issued = signer(request).resident_qr(resident.id, now)
    refresh = QR_PERIOD_S - int(now.timestamp()) % QR_PERIOD_S
    if query.format == "json":
        return QrOut(token=issued.text, resident_id=resident.id,
                     not_before=issued.claims.not_before, expires=issued.claims.expires,
                     refresh_in_s=refresh)
    return web.Response(
        body=render(issued.text, query.format), content_type=CONTENT_TYPES[query.format],
        # the token the image holds, so a page can show both without signing twice
        headers={"Cache-Control": "no-store", "Refresh": str(refresh),
                 "X-Lintel-Token": issued.text},
    )


@routes.get("/me/phone-keys", response=PhoneKeyList, roles=RESIDENT)
async def list_my_phone_keys(request: web.Request) -> PhoneKeyList:
    """My registered phone keys (Bluetooth), revoked ones included."""
    async with reading(request) as session:
        resident = await my_resident(request, session)
        keys = await session.scalars(
            select(PhoneKey).where(PhoneKey.resident_id == resident.id).order_by(PhoneKey.id)
        )
        return PhoneKeyList(items=[PhoneKeyOut.model_validate(k) for k in keys])


@routes.post("/me/phone-keys", body=PhoneKeyCreate, response=PhoneKeyOut, status=201,
             roles=RESIDENT)
async def register_phone_key(request: web.Request, body: PhoneKeyCreate) -> PhoneKeyOut:
    """Register a phone's Ed25519 public key for Bluetooth opening."""
    async with writing(request) as change:
        session = change.session
        resident = await my_resident(request, session)
        taken = await session.scalar(select(PhoneKey.id).where(PhoneKey.public_key == body.public_key))
        if taken is not None:
            raise ConflictError("this public key is already registered",
                                ("error.key_registered", {}))
        key = PhoneKey(site_id=resident.site_id, resident_id=resident.id,
                       public_key=body.public_key, label=body.label, status="active")
        session.add(key)
        await session.flush()
        await session.refresh(key)
        change.sites.add(resident.site_id)
        return PhoneKeyOut.model_validate(key)


@routes.post(r"/me/phone-keys/{id:\d+}/revoke", response=PhoneKeyOut, roles=RESIDENT)
async def revoke_phone_key(request: web.Request) -> PhoneKeyOut:
    """Revoke one of my phone keys (a lost phone): the doors refuse it from the next snapshot."""
    key_id = row_id(request, "phone key")
    async with writing(request) as change:
        session = change.session
        resident = await my_resident(request, session)
        key = await session.get(PhoneKey, key_id)
        if key is None or key.resident_id != resident.id:
            raise NotFoundError("phone key", key_id)
        if key.status != "revoked":
            key.status = "revoked"
            key.revoked_at = datetime.now(UTC)
            change.sites.add(key.site_id)
        await session.flush()
        return PhoneKeyOut.model_validate(key)
