"""A console's side of the live feed (hub.api.core.live), for tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp


class LiveSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._skipped: list[tuple[str, dict[str, Any]]] = []  # for a later next()

    async def next(self, channel: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The data of the next message on `channel` whose fields equal `match` (pushes from
        two workers may come in either order: a message skipped here is kept for a later
        call). TimeoutError if none comes in time."""
        def wanted(ch: str, data: dict[str, Any]) -> bool:
            return ch == channel and all(data.get(k) == v for k, v in match.items())

        for i, (ch, data) in enumerate(self._skipped):
            if wanted(ch, data):
                del self._skipped[i]
                return data
        async with asyncio.timeout(timeout):
            while True:
                msg = await self._ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"live feed closed: {msg.type.name}")
                message = json.loads(msg.data)
                if wanted(message["channel"], message["data"]):
                    return dict(message["data"])
                self._skipped.append((message["channel"], message["data"]))

    async def nothing(self, within: float) -> None:
        """Assert that no message arrives within `within` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                msg = await self._ws.receive()
                raise AssertionError(f"expected no live message, got {msg.data!r}")


@contextlib.asynccontextmanager
async def live_socket(http: aiohttp.ClientSession, url: str, channels: Iterable[str], *,
                      token: str) -> AsyncIterator[LiveSocket]:
    """`url` is the hub's base URL (http://host:port)."""
    async with http.ws_connect(f"{url}/api/v1/live", params={"channels": ",".join(channels)},
                               headers={"Authorization": f"Bearer {token}"}) as ws:
        yield LiveSocket(ws)
