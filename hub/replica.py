"""Reads from a PostgreSQL streaming replica, writes to the primary (issue 19 point 2).

Read-your-writes is by log position, not by a time window: after a write the client is handed
the primary's WAL position (a cookie and a header, see hub.api.core.replica) and its reads go
to the primary until the replica has replayed past it. That is exact whatever the lag, costs
one cheap query per write, and holds across hub workers, since the position travels with the
client rather than living in one process."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)
LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
# after a failed connection, reads stay on the primary this long before the replica is tried
RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class ReplicaStatus:
    """What the status page and /health show about the replica."""

    state: str  # "ok", "paused" (replay paused: reads still served, lag grows), "down"
    lag_bytes: int | None = None
    lag_s: float | None = None
    error: str | None = None


def valid_lsn(value: str) -> bool:
    return bool(LSN.match(value.upper()))


class ReplicaReads:
    """Chooses the sessions a read uses and measures the replica's lag in the background."""

    def __init__(self, primary: async_sessionmaker[AsyncSession],
                 replica: async_sessionmaker[AsyncSession], *, check_interval_s: float = 2.0
                 ) -> None:
        self.primary = primary
        self.replica = replica
        self.check_interval_s = check_interval_s
        self.status = ReplicaStatus(state="ok")
        self._down_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def mark_down(self, exc: BaseException) -> None:
        """A replica that fails is skipped for a while: reads fall back to the primary."""
        if self.usable():
            log.warning("replica unreachable, reading from the primary: %s", exc)
        self._down_until = time.monotonic() + RETRY_AFTER_S
        self.status = ReplicaStatus(state="down", error=type(exc).__name__)

    async def primary_lsn(self) -> str:
        """The primary's WAL position now: past the commit of every write already answered."""
        async with self.primary() as session:
            return str((await session.execute(text("SELECT pg_current_wal_lsn()"))).scalar_one())

    async def caught_up(self, lsn: str) -> bool:
        """Whether the replica has replayed up to `lsn`; False (and marked down) if it fails."""
        try:
            async with self.replica() as session:
                done = (await session.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                    {"lsn": lsn})).scalar_one()
        except (SQLAlchemyError, OSError) as exc:
            self.mark_down(exc)
            return False
        return bool(done)

    async def check(self) -> ReplicaStatus:
        """Measure the lag: bytes the replica has not replayed, and for how long."""
        try:
            async with self.replica() as session:
                row = (await session.execute(text(
                    "SELECT pg_last_wal_replay_lsn(), pg_is_wal_replay_paused(), "
                    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())"))).one()
            async with self.primary() as session:
                lag_bytes = int((await session.execute(
                    text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), CAST(:r AS pg_lsn))"),
                    {"r": str(row[0])})).scalar_one())
        except (SQLAlchemyError, OSError) as exc:
            self.mark_down(exc)
            return self.status
        lag_bytes = max(lag_bytes, 0)
        # an idle primary writes nothing: the replay timestamp ages but nothing is behind
        lag_s = 0.0 if lag_bytes == 0 or row[2] is None else max(float(row[2]), 0.0)
        if not self.usable():
            log.warning("replica reachable again: reads go back to it")
        self._down_until = 0.0
        self.status = ReplicaStatus(state="paused" if row[1] else "ok", lag_bytes=lag_bytes,
                                    lag_s=round(lag_s, 3))
        return self.status

    async def _watch(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.check_interval_s)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._watch(), name="replica-lag")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


__all__ = ["ReplicaReads", "ReplicaStatus", "valid_lsn"]
