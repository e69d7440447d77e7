"""The console's live feed: a WebSocket that pushes what was just committed (see hub.live)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from hub.api.core.auth import ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import BadRequestError, ForbiddenError
from hub.api.core.keys import COMPANY_SITES, CURRENT_USER, LIVE, SESSIONS
from hub.api.core.schemas import ErrorOut
from hub.errors import MqttError
from hub.live import CHANNEL_ROLES, Listener, LiveItem
from hub.models import Household, Unit, User
from hub.tasks import cancel_and_wait
from hub.texts import language_of, localize
from hub.texts.validation import Refusal

routes = EndpointTable(tag="live")
HEARTBEAT_S = 20.0  # pings keep proxies from closing an idle console's socket
LIVE_READY_S = 3.0  # how long a console waits for its worker's subscription to the pushes


class LiveQuery(BaseModel):
    channels: str = Field(
        min_length=1, max_length=500,
        description="comma-separated channels, e.g. `access,alarms`",
        examples=["access,door"])
    lang: Literal["zh", "en"] | None = Field(
        default=None, description="the language of the texts pushed (default: Accept-Language)")

    @field_validator("channels")
    @classmethod
    def known_channels(cls, value: str) -> str:
        names = [c.strip() for c in value.split(",")]
        unknown = [c for c in names if c not in CHANNEL_ROLES]
        if unknown:
            raise Refusal(
                "invalid.channels", f"unknown channel(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(CHANNEL_ROLES))}", unknown=", ".join(unknown),
                known=", ".join(sorted(CHANNEL_ROLES)))
        return ",".join(names)


@routes.get("/live", query=LiveQuery, roles=ROLES, errors={400: ErrorOut, 403: ErrorOut})
async def live(request: web.Request, query: LiveQuery) -> web.StreamResponse:
    """Open the live feed (WebSocket): each message is `{"channel": ..., "data": {...}}`."""
    user: User = request[CURRENT_USER]
    channels = frozenset(query.channels.split(","))
    refused = sorted(c for c in channels if user.role not in CHANNEL_ROLES[c])
    if refused:
        raise ForbiddenError(f"role {user.role!r} may not listen to {', '.join(refused)}")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    if not ws.can_prepare(request).ok:
        raise BadRequestError("this endpoint is a WebSocket: send an Upgrade request",
                              ("error.websocket", {}))
    listener = await _listener_for(request, user, channels)
    listener.lang = query.lang or language_of(request)
    bus = request.app[LIVE]
    bus.listen(listener)
    try:
        # The socket opens once other workers' pushes reach this one too (the first console
        # of a worker subscribes it); with the broker away, local pushes still come.
        with contextlib.suppress(MqttError):
            await bus.wait_ready(LIVE_READY_S)
        await ws.prepare(request)
        sender = asyncio.create_task(_send(ws, listener))
        try:
            async for msg in ws:  # the console sends nothing; reading notices the close
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            await cancel_and_wait(sender)
    finally:
        bus.unlisten(listener)
    return ws


async def _send(ws: web.WebSocketResponse, listener: Listener) -> None:
    while not ws.closed:
        item: LiveItem = await listener.queue.get()
        message: dict[str, Any] = {"channel": item.channel,
                                   "data": localize(item.data, listener.lang)}
        try:
            await ws.send_json(message)
        except ConnectionError:
            return


async def _listener_for(request: web.Request, user: User, channels: frozenset[str]) -> Listener:
    site_id, building_id = user.site_id, None
    if user.role == "resident" and user.household_id is not None:
        async with request.app[SESSIONS]() as session:
            row = (await session.execute(
                select(Household.site_id, Unit.building_id)
                .join(Unit, Unit.id == Household.unit_id)
                .where(Household.id == user.household_id))).first()
        if row is not None:
            site_id, building_id = row
    return Listener(role=user.role, user_id=user.id, channels=channels, site_id=site_id,
                    household_id=user.household_id, building_id=building_id,
                    sites=request.get(COMPANY_SITES) if user.role == "company_admin" else None)
