"""A Vzenith-style plate camera that stays connected the way a real one does: besides pushing
each recognition, it keeps posting its heartbeat to the edge ("comet" polling), and an answer
of `"info": "ok"` to either pulses its relay, which raises the barrier wired to it.

    async with PlateCamera("http://127.0.0.1:8088", "gate-in", secret="...") as camera:
        await camera.push("粤B12345")      # True: the relay pulsed
        camera.pulses                      # monotonic times of every relay pulse
        camera.up                          # the barrier arm, up for `hold_s` after a pulse
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from typing import Self

import aiohttp

from simulators.lpr import vzenith_push

log = logging.getLogger(__name__)


class PlateCamera:
    def __init__(self, edge_url: str, lane: str, *, secret: str, user: str = "camera",
                 heartbeat_s: float = 1.0, hold_s: float = 3.0,
                 timeout_s: float = 30.0) -> None:
        """`heartbeat_s`: the pause between heartbeats (the camera's setting; a real camera's
        shortest is about a second); `timeout_s`: its HTTP timeout, above the edge's hold."""
        self.url = f"{edge_url.rstrip('/')}/lpr/{lane}"
        self.heartbeat_s = heartbeat_s
        self.hold_s = hold_s
        self.pulses: list[float] = []
        self.heartbeats = 0
        self.failures = 0
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        self._auth = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._pulsed = asyncio.Event()
        self._down_at = 0.0

    @property
    def up(self) -> bool:
        return time.monotonic() < self._down_at

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession(headers=self._auth, timeout=self._timeout)
        self._task = asyncio.create_task(self._comet(), name=f"lpr-camera-{self.url}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.close()

    def _relay(self) -> None:
        self.pulses.append(time.monotonic())
        self._down_at = time.monotonic() + self.hold_s
        self._pulsed.set()

    async def next_pulse(self, timeout_s: float) -> float:
        """Wait for the next relay pulse; its monotonic time."""
        self._pulsed.clear()
        async with asyncio.timeout(timeout_s):
            await self._pulsed.wait()
        return self.pulses[-1]

    async def push(self, plate: str, *, colour: str = "blue", confidence: float = 0.95) -> bool:
        """One recognition; True when the answer pulsed the relay."""
        assert self._http is not None, "use `async with`"
        body = json.dumps(vzenith_push(plate, colour=colour, confidence=confidence),
                          ensure_ascii=False).encode()
        async with self._http.post(self.url, data=body,
                                   headers={"Content-Type": "application/json"}) as resp:
            doc = await resp.json(content_type=None)
        opened = resp.status == 200 and doc.get("Response_AlarmInfoPlate", {}).get("info") == "ok"
        if opened:
            self._relay()
        return bool(opened)

    async def _comet(self) -> None:
        assert self._http is not None
        count = 0
        while True:
            count += 1
            body = json.dumps({"heartbeat": {"countid": count, "serialno": "sim-lpr-0001"}})
            try:
                async with self._http.post(f"{self.url}/heartbeat", data=body) as resp:
                    doc = await resp.json(content_type=None)
                self.heartbeats += 1
                if resp.status == 200 and doc.get("Response_Heartbeat", {}).get("info") == "ok":
                    self._relay()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self.failures += 1
                log.debug("heartbeat to %s failed: %s", self.url, exc)
            await asyncio.sleep(self.heartbeat_s)


__all__ = ["PlateCamera"]
