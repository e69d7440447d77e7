"""Background tasks of the hub's long-lived parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)


# How long a cancelled task may take to stop before it is cancelled again.
RECANCEL_S = 2.0


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a part's background task and wait until it has stopped.

    A cancel can be lost: Python 3.11's `asyncio.wait_for` (ours are gone, libraries still
    use it) returns normally when the cancel lands as its wait ends, and the task's loop goes
    on. Waiting on such a task held a hub's shutdown forever; it is cancelled again every
    RECANCEL_S, with a warning naming it, until it stops. An error the task ended with is
    raised here, as awaiting it would."""
    if task is None:
        return
    task.cancel()
    while not task.done():
        await asyncio.wait({task}, timeout=RECANCEL_S)
        if not task.done():
            log.warning("task %r went on after it was cancelled; cancelling it again",
                        task.get_name())
            task.cancel()
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


async def cancel_when_idle(task: asyncio.Task[Any] | None, idle: asyncio.Event,
                           grace_s: float) -> None:
    """Let the work under way finish (`idle` set) for at most `grace_s`, then cancel the task:
    a transaction cut short leaves SQLAlchemy's pool to log the cancelled rollback as an
    error with a traceback on every stop that lands mid-round."""
    try:
        if task is not None and not idle.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_s):
                    await idle.wait()
    finally:
        await cancel_and_wait(task)


class Periodic:
    """A part whose `run_once()` runs now and then every `interval_s` while `async with` it
    (any hub worker may run it: each job is safe to run twice). A failed run is logged and
    tried again at the next round: the database may be away for a while."""

    task_name = "periodic"
    stop_grace_s = 5.0  # how long exit waits for a round under way

    def __init__(self, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def run_once(self) -> Any:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name=self.task_name)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await cancel_when_idle(self._task, self._idle, self.stop_grace_s)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._idle.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("%s failed; next try in %.0f s", self.task_name, self._interval_s)
            finally:
                self._idle.set()
            await asyncio.sleep(self._interval_s)
