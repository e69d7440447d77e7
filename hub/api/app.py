"""The API application factory."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.access import commands, door_states, groups, panel, schedules
from hub.api.access import log as events
from hub.api.access import settings as access
from hub.api.alarms import notices, reports
from hub.api.alarms import routes as alarms
from hub.api.cameras import routes as cameras
from hub.api.core import live, login, meta
from hub.api.core.audit import audit_middleware, parse_proxies
from hub.api.core.endpoints import ENDPOINTS, Endpoint
from hub.api.core.keys import (
    COMMANDS,
    CONFIG_PUBLISHER,
    COOKIE_SECURE,
    LIVE,
    PUBLISHER,
    REPLICA,
    SESSIONS,
    SIGNER,
    TOKEN_TTL_S,
    TRUSTED_PROXIES,
)
from hub.api.core.language import language_middleware
from hub.api.core.middleware import body_limits_middleware, error_middleware
from hub.api.core.openapi import build_openapi
from hub.api.core.replica import replica_middleware
from hub.api.credentials import cards, pins, visitor_passes
from hub.api.credentials import signed as credentials
from hub.api.devices import routes as devices
from hub.api.devices.routes import TELEMETRY_SINK
from hub.api.homesec import routes as homesec
from hub.api.installation import installation_endpoints
from hub.api.meters import routes as meters
from hub.api.patrol import routes as patrol
from hub.api.registry import audit, buildings, edges, households, imports, residents, users
from hub.api.registry import sites as registry
from hub.api.vehicles import events as lane_decisions
from hub.api.vehicles import lane_open, parking_spaces
from hub.api.vehicles import reports as vehicle_reports
from hub.api.vehicles import routes as vehicles
from hub.api.workorders import maintenance
from hub.api.workorders import routes as workorders
from hub.credentials.signing import TokenSigner
from hub.installation.publish import ConfigPublisher
from hub.live import LiveBus
from hub.replica import ReplicaReads
from hub.telemetry import TelemetrySink

API_PREFIX = "/api/v1"


def all_endpoints() -> list[Endpoint]:
    return [
        *meta.routes,
        *login.routes,
        *residents.routes,
        *pins.routes,
        *cards.routes,
        *schedules.routes,
        *groups.routes,
        *registry.routes,
        *edges.routes,
        *events.routes,
        *commands.routes,
        *access.routes,
        *door_states.routes,
        *panel.routes,
        *devices.routes,
        *buildings.routes,
        *households.routes,
        *users.routes,
        *imports.routes,
        *credentials.routes,
        *visitor_passes.routes,
        *vehicles.routes,
        *parking_spaces.routes,
        *lane_open.routes,
        *lane_decisions.routes,
        *vehicle_reports.routes,
        *live.routes,
        *alarms.routes,
        *notices.routes,
        *patrol.routes,
        *reports.routes,
        *cameras.routes,
        *workorders.routes,
        *maintenance.routes,
        *meters.routes,
        *homesec.routes,
        *installation_endpoints(),
        *audit.routes,
    ]


def create_app(
    *,
    sessions: async_sessionmaker[AsyncSession],
    publisher: Any,
    token_ttl_s: int = 86400,
    commands: Any = None,
    telemetry_sink: TelemetrySink | None = None,
    cookie_secure: bool = False,
    signer: TokenSigner | None = None,
    live: LiveBus | None = None,
    config_publisher: ConfigPublisher | None = None,
    replica: ReplicaReads | None = None,
    trusted_proxies: tuple[str, ...] = (),
) -> web.Application:
    """The REST API under /api/v1. `publisher.registry_changed(site_id)` is called after each
    committed registry change; the caller owns the engine behind `sessions`. `cookie_secure`
    marks the session cookie Secure (set it when the console is served over HTTPS);
    `trusted_proxies` (addresses or networks) are the reverse proxies whose X-Forwarded-For
    the audit believes."""
    if token_ttl_s <= 0:
        raise ValueError(f"token_ttl_s must be positive, not {token_ttl_s}")
    app = web.Application(middlewares=[language_middleware, error_middleware,
                                       replica_middleware, body_limits_middleware,
                                       audit_middleware])
    app[TRUSTED_PROXIES] = parse_proxies(trusted_proxies)
    app[SESSIONS] = sessions
    if replica is not None:  # else every read uses `sessions`
        app[REPLICA] = replica
    app[PUBLISHER] = publisher
    app[TOKEN_TTL_S] = token_ttl_s
    if commands is not None:
        app[COMMANDS] = commands
    if config_publisher is not None:  # else installation changes push no configuration
        app[CONFIG_PUBLISHER] = config_publisher
    if telemetry_sink is not None:  # else the SQL telemetry tables behind `sessions`
        app[TELEMETRY_SINK] = telemetry_sink
    app[COOKIE_SECURE] = cookie_secure
    # Without the hub's signer (API-only tests), tokens are signed by a throwaway key.
    app[SIGNER] = signer or TokenSigner(Ed25519PrivateKey.generate())
    app[LIVE] = live or LiveBus()  # without a broker: pushes reach this process's consoles
    endpoints = all_endpoints()
    for ep in endpoints:
        app.router.add_route(ep.method, API_PREFIX + ep.path, ep.handle, name=ep.view.__name__)
    app[ENDPOINTS] = endpoints
    app[meta.OPENAPI] = build_openapi(endpoints, API_PREFIX)
    return app
