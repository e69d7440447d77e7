"""Typed keys for application and request state."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import User


class RegistryPublisher(Protocol):
    """What the API needs from the permission compiler: a non-blocking nudge per site."""

    def registry_changed(self, site_id: str) -> None: ...


SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
PUBLISHER = web.AppKey("publisher", RegistryPublisher)
TOKEN_TTL_S = web.AppKey("token_ttl_s", int)

CURRENT_USER = web.RequestKey("current_user", User)

# The hub's token signer (QR codes, visitor passes); see hub.credentials.
SIGNER = web.AppKey("signer", object)
