"""The HTTP endpoint plate cameras push to: `POST /lpr/{lane}`, one URL per lane.

A push without the lane camera's credentials is refused (401) and reported as a security
event; a push that cannot be read is answered 400 with the reason and decides nothing;
otherwise the lane decides and the answer in the camera's own format works its barrier.
`POST /lpr/{lane}/heartbeat` takes the camera's heartbeat (comet poll), whose answer works the
relay when a guard opened the lane.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from edge.drivers.lpr import PlateReading, PushError, push_format
from wire.vehicles import LaneConfig

log = logging.getLogger(__name__)

MAX_PUSH_BYTES = 8 * 1024 * 1024  # a push carries a JPEG or two, base64
OnReading = Callable[[LaneConfig, PlateReading], Awaitable[bool]]  # True: open the barrier
OnRefused = Callable[[LaneConfig | None, str, str], None]  # (lane, peer, why)
OnHeartbeat = Callable[[LaneConfig], Awaitable[bool]]  # True: a guard's open, raise it now
SHUTDOWN_S = 2.0  # a held heartbeat (or a pulse under way) at exit is cut after this


async def _never_open(lane: LaneConfig) -> bool:
    return False


def camera_authorised(lane: LaneConfig, header: str | None) -> bool:
    """HTTP basic with the lane's camera user and secret, or the secret as a bearer token."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    secret: str | None = None
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if sep and hmac.compare_digest(user.encode(), lane.camera_user.encode()):
            secret = password
    elif scheme.lower() == "bearer":
        secret = value.strip()
    if secret is None:
        return False
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return hmac.compare_digest(digest, lane.camera_secret_sha256)


class LaneServer:
    """`async with LaneServer(lanes, on_reading, on_refused, host=, port=)` serves the lanes'
    cameras until exit. `port=0` picks a free one (`.port` says which)."""

    def __init__(self, lanes: list[LaneConfig], on_reading: OnReading, on_refused: OnRefused,
                 *, host: str = "0.0.0.0", port: int = 8088,
                 on_heartbeat: OnHeartbeat = _never_open) -> None:
        self.lanes = {lane.id: lane for lane in lanes}
        self._on_reading = on_reading
        self._on_refused = on_refused
        self._on_heartbeat = on_heartbeat
        self._host, self.port = host, port
        self.malformed = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PUSH_BYTES)
        app.router.add_post("/lpr/{lane}", self._push)
        app.router.add_post("/lpr/{lane}/heartbeat", self._heartbeat)
        return app

    async def __aenter__(self) -> Self:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=SHUTDOWN_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server  # aiohttp names no public accessor
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _lane(self, request: web.Request) -> LaneConfig | web.Response:
        """The lane the camera's credentials open, or the refusal (reported)."""
        peer = request.remote or "?"
        lane = self.lanes.get(request.match_info["lane"])
        if lane is None:
            self._on_refused(None, peer, f"unknown lane {request.match_info['lane']!r}")
            return web.json_response({"error": "unknown lane"}, status=404)
        if not camera_authorised(lane, request.headers.get("Authorization")):
            self._on_refused(lane, peer, "missing or wrong camera credentials")
            return web.json_response({"error": "camera credentials refused"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="lintel-lpr"'})
        return lane

    async def _heartbeat(self, request: web.Request) -> web.Response:
        lane = self._lane(request)
        if isinstance(lane, web.Response):
            return lane
        try:
            fmt = push_format(lane.push_format)
            answer = fmt.heartbeat(await request.read())
        except PushError as exc:
            self.malformed += 1
            return web.json_response({"error": str(exc)}, status=400)
        if answer is None:
            return web.json_response({"error": f"{lane.push_format} cameras send no heartbeat"},
                                     status=404)
        if await self._on_heartbeat(lane):
            answer = fmt.heartbeat_answer(True)
        return web.Response(body=answer.body, content_type=answer.content_type, charset="utf-8")

    async def _push(self, request: web.Request) -> web.Response:
        peer = request.remote or "?"
        lane = self._lane(request)
        if isinstance(lane, web.Response):
            return lane
        try:
            fmt = push_format(lane.push_format)
            reading = fmt.parse(await request.read(), request.content_type)
        except PushError as exc:
            self.malformed += 1
            log.warning("lane %s: unreadable push from %s: %s", lane.id, peer, exc)
            return web.json_response({"error": str(exc)}, status=400)
        opened = await self._on_reading(lane, reading)
        answer = fmt.answer(reading, opened)
        return web.Response(body=answer.body, content_type=answer.content_type, charset="utf-8")
