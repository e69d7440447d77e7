"""`async with PatrolSweep(...)`: the patrol's deadlines, evaluated every `interval_s` by any
hub worker (hub.patrol.rounds.sweep makes each alarm happen once); the alarms it opens go to
the consoles' live feed after the commit, as the rules' do."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import LiveBus, LiveItem
from hub.patrol.rounds import sweep
from hub.rules.alarms import alarm_data
from hub.rules.clock import Clock, SystemClock
from hub.rules.models import Alarm
from hub.tasks import Periodic


class PatrolSweep(Periodic):
    task_name = "patrol-sweep"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval_s: float = 30.0,
                 *, clock: Clock | None = None, live: LiveBus | None = None) -> None:
        super().__init__(interval_s)
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._live = live
        self.alarms_opened = 0

    async def run_once(self) -> list[int]:
        async with self._sessions() as session, session.begin():
            opened = await sweep(session, self._clock.now())
        self.alarms_opened += len(opened)
        if opened and self._live is not None:
            async with self._sessions() as session:
                alarms = list(await session.scalars(select(Alarm).where(Alarm.id.in_(opened))))
            await self._live.publish([
                LiveItem("alarms", {"event": "raised", "alarm": alarm_data(a)}, a.site_id,
                         a.building_id) for a in alarms])
        return opened


__all__ = ["PatrolSweep"]
