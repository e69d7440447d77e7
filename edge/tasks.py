"""Named background tasks of one owner: a crash is logged with the task's name, and leaving
cancels them all and waits for them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Tasks:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(_guard(coro, name), name=name)
        self._tasks.append(task)
        task.add_done_callback(self._forget)  # a task stopped on its own leaves the list
        # a task cancelled before its first step never awaited `coro`: close it quietly
        task.add_done_callback(lambda _: coro.close())
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def cancel(self) -> None:
        await stop(*self._tasks)
        self._tasks.clear()


# How long a cancelled task may take to stop before it is cancelled again.
RECANCEL_S = 2.0


async def stop(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel these tasks and wait until every one has stopped.

    A cancel can be lost: Python 3.11's `asyncio.wait_for` (pymodbus uses it) returns normally
    when the cancel lands as its wait ends, and the task's loop goes on; awaiting it once
    would wait forever. A task still running RECANCEL_S after its cancel is cancelled again,
    with a warning naming it. The first error a task ended with is raised, as awaiting the
    tasks one by one would."""
    given = [task for task in tasks if task is not None]
    running = {task for task in given if not task.done()}
    for task in running:
        task.cancel()
    while running:
        _, running = await asyncio.wait(running, timeout=RECANCEL_S)
        for late in running:
            log.warning("task %r went on after it was cancelled; cancelling it again",
                        late.get_name())
            late.cancel()
    for done in given:
        if not done.cancelled() and (error := done.exception()) is not None:
            raise error


async def _guard(coro: Coroutine[Any, Any, None], name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("edge task %s crashed", name)
        raise
