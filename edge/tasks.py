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
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


async def _guard(coro: Coroutine[Any, Any, None], name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("edge task %s crashed", name)
        raise
