"""Typed keys for application and request state."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.edgeconfig import EdgeConfigPublisher
from hub.installation.publish import ConfigPublisher
from hub.live import LiveBus
from hub.models import User
from hub.replica import ReplicaReads


class RegistryPublisher(Protocol):
    """What the API needs from the permission compiler: a non-blocking nudge per site."""

    def registry_changed(
        self, site_id: str, edges: Iterable[int] | None = None,
        residents: Iterable[int] | None = None,
    ) -> None: ...


class CommandSender(Protocol):
    """What the API needs to command edges (hub.commands.CommandSender)."""

    async def send(self, *, site: str, edge: str, command: str, reason: str, issued_by: str,
                   door: str | None = None, duration_s: float | None = None,
                   lane: str | None = None, plate: str | None = None,
                   device: str | None = None, arm_mode: Any = None,
                   bypass: list[int] | None = None) -> Any: ...

    async def reset_permissions(self, *, edge_id: int, reason: str, issued_by: str) -> Any: ...

    async def reset_config(self, *, edge_id: int, reason: str, issued_by: str) -> Any: ...


SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
PUBLISHER = web.AppKey("publisher", RegistryPublisher)
TOKEN_TTL_S = web.AppKey("token_ttl_s", int)
COMMANDS = web.AppKey("commands", CommandSender)
COOKIE_SECURE = web.AppKey("cookie_secure", bool)
LIVE = web.AppKey("live", LiveBus)  # pushes to the consoles (hub.live)
# recompiles and pushes an edge's configuration after an installation change (optional)
CONFIG_PUBLISHER = web.AppKey("config_publisher", ConfigPublisher)
# signs and publishes an edge's configuration (hub.edgeconfig); set by the hub's assembly
EDGE_CONFIGS = web.AppKey("edge_configs", EdgeConfigPublisher)

# the reverse proxies whose X-Forwarded-For is believed (hub.api.core.audit.client_address)
TRUSTED_PROXIES = web.AppKey(
    "trusted_proxies", tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...])

# reads from a streaming replica (hub.replica); absent: every read uses SESSIONS
REPLICA = web.AppKey("replica", ReplicaReads)

CURRENT_USER = web.RequestKey("current_user", User)
# a company admin's sites, read with their token (None for every other role)
COMPANY_SITES = web.RequestKey[frozenset[str] | None]("company_sites")
# the sessions this request reads with: the replica's, when it is usable and caught up
READ_SESSIONS = web.RequestKey("read_sessions", async_sessionmaker[AsyncSession])

# The hub's token signer (QR codes, visitor passes); see hub.credentials.
SIGNER = web.AppKey("signer", object)
