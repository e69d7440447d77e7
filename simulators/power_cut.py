"""A TCP relay between an edge and the broker that can fail the way a power cut does.

`cut()` makes the machine behind the relay vanish: nothing more is forwarded either way
and no FIN or RST reaches the broker (the connections stay open, unread), so the broker
can only notice by the MQTT keepalive, as when an edge loses power or its cable. Killing
the edge process alone would not do: its kernel closes the socket and the broker sends the
will at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self


class PowerCut:
    """`async with PowerCut(host, port) as relay:` listens on 127.0.0.1:`relay.port`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._cut = asyncio.Event()
        self._closing = asyncio.Event()
        self._held: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut(self) -> None:
        """From now on the machine behind the relay is gone, silently."""
        self._cut.set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._held:
            writer.close()

    async def _relay(self, edge_r: asyncio.StreamReader, edge_w: asyncio.StreamWriter) -> None:
        if self._cut.is_set():
            edge_w.close()
            return
        try:
            broker_r, broker_w = await asyncio.open_connection(*self._target)
        except OSError:
            edge_w.close()
            return
        self._held += [edge_w, broker_w]
        await asyncio.gather(self._pipe(edge_r, broker_w), self._pipe(broker_r, edge_w))
        await self._closing.wait()  # a cut connection stays open, as a dead machine's would

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while True:
            data = await src.read(65536)
            if self._cut.is_set():
                return  # swallowed: a machine without power says nothing, not even goodbye
            if not data:
                with contextlib.suppress(OSError):
                    dst.write_eof()
                return
            dst.write(data)
            with contextlib.suppress(ConnectionError):
                await dst.drain()


__all__ = ["PowerCut"]
