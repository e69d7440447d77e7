"""What a person at a simulated OSDP door sees: each swipe answered by the reader's LED.

The edge drives the LED green for a grant and red for a refusal on every decision, so the
LED command reaching the simulator is the moment the door answered, whatever the relay was
doing (a grant while the lock is still released changes nothing at the relay).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulators.osdp_door import OsdpDoorSimulator

POLL_S = 0.002  # only when the next swipe starts; the answer's time is stamped by the simulator


@dataclass(frozen=True, slots=True)
class Answer:
    granted: bool
    presented_at: float  # time.monotonic()
    answered_at: float  # time.monotonic(), when the LED command reached the door


async def swipe(door: OsdpDoorSimulator, present: Callable[[], None],
                timeout: float = 5.0) -> Answer:
    """Present a credential at `door` (`present` does it) and wait for the door's answer."""
    before = door.last_led
    presented = time.monotonic()
    present()
    while (led := door.last_led) is before or led is None:
        if time.monotonic() - presented > timeout:
            raise TimeoutError(f"door {door.name}: no answer {timeout} s after a swipe")
        await asyncio.sleep(POLL_S)
    return Answer(granted=led["color"] == "green", presented_at=presented, answered_at=led["at"])


async def swipe_until(door: OsdpDoorSimulator, present: Callable[[], None], *, granted: bool,
                      timeout: float) -> tuple[Answer, list[Answer]]:
    """Swipe again and again, each as soon as the last was answered, until an answer is
    `granted` (True) or refused (False). Returns that answer and every answer before it."""
    started = time.monotonic()
    before: list[Answer] = []
    while True:
        answer = await swipe(door, present)
        if answer.granted == granted:
            return answer, before
        before.append(answer)
        if time.monotonic() - started > timeout:
            wanted = "granted" if granted else "refused"
            raise TimeoutError(f"door {door.name}: no swipe {wanted} within {timeout} s "
                               f"({len(before)} swipes)")
