"""`async with PatrolSweep(...)`: the patrol's deadlines, evaluated every `interval_s` by any
hub worker (hub.patrol.rounds.sweep makes each alarm happen once)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.patrol.rounds import sweep
from hub.rules.clock import Clock, SystemClock
from hub.tasks import Periodic


class PatrolSweep(Periodic):
    task_name = "patrol-sweep"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval_s: float = 30.0,
                 *, clock: Clock | None = None) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self.alarms_opened = 0

    async def run_once(self) -> list[int]:
        async with self._sessions() as session, session.begin():
            opened = await sweep(session, self._clock.now())
        self.alarms_opened += len(opened)
        return opened


__all__ = ["PatrolSweep"]
