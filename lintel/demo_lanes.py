"""The demo's car gate: two simulated plate cameras (simulators/lpr_camera.py) at the edge's
entry and exit lanes, and a car every so often, so the guard's lane panel has something live.

The round: 张伟's car comes in and later leaves; a visitor's car comes (a temporary vehicle,
or let in by the resident's visitor-car pass if one names it) and leaves; a blocked plate is
refused at the entry (the guard's alarm). Each step is one camera push in the vendor's format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Self

import aiohttp

from hub.seed import DEMO_BLOCKED_PLATE, DEMO_CAR, DEMO_VISITOR_CAR
from hub.tasks import cancel_and_wait
from simulators.lpr_camera import PlateCamera

log = logging.getLogger("lintel.demo")

STEP_S = 25.0  # between two cars at the gate
# (lane, plate, confidence): who comes and goes, in order, round and round
ROUND = (
    ("gate-in", DEMO_CAR, 0.96),
    ("gate-in", DEMO_VISITOR_CAR, 0.93),
    ("gate-out", DEMO_CAR, 0.95),
    ("gate-in", DEMO_BLOCKED_PLATE, 0.91),
    ("gate-out", DEMO_VISITOR_CAR, 0.94),
)


class LaneFeed:
    """`async with LaneFeed(edge_url, secret):` the two cameras keep their heartbeat to the
    edge and push the round's plates until exit."""

    def __init__(self, edge_url: str, secret: str, *, step_s: float = STEP_S) -> None:
        self.cameras = {lane: PlateCamera(edge_url, lane, secret=secret)
                        for lane in ("gate-in", "gate-out")}
        self._step_s = step_s
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        for camera in self.cameras.values():
            await self._stack.enter_async_context(camera)
        self._task = asyncio.create_task(self._run(), name="demo-lane-feed")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await cancel_and_wait(self._task)
        await self._stack.aclose()

    async def _run(self) -> None:
        step = 0
        while True:
            await asyncio.sleep(self._step_s)
            lane, plate, confidence = ROUND[step % len(ROUND)]
            step += 1
            try:
                opened = await self.cameras[lane].push(plate, confidence=confidence)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                # the edge's lane server starts with its configuration: try again next step
                log.debug("demo lane %s: push of %s failed: %s", lane, plate, exc)
                continue
            log.info("lane %s: %s %s", lane, plate, "barrier up" if opened else "barrier down")


__all__ = ["LaneFeed"]
