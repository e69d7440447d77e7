"""Login throttling: failed logins are counted per (username, client address) in the
database, so every hub worker sees the same count. After `MAX_FAILURES` failures within
`WINDOW_S` the pair is refused (429, with when to retry), whatever the password, until the
oldest of those failures leaves the window; a successful login clears the pair's count.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow

MAX_FAILURES = 5
WINDOW_S = 60.0


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_who", "username", "address", "failed_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


async def retry_after(session: AsyncSession, username: str, address: str,
                      now: datetime | None = None) -> int | None:
    """Seconds until this pair may try again, or None when it may try now."""
    now = now or utcnow()
    since = now - timedelta(seconds=WINDOW_S)
    times = list(await session.scalars(
        select(LoginFailure.failed_at)
        .where(LoginFailure.username == username, LoginFailure.address == address[:64],
               LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at)))
    if len(times) < MAX_FAILURES:
        return None
    # it may try again once enough of these failures have left the window
    frees_at = times[len(times) - MAX_FAILURES] + timedelta(seconds=WINDOW_S)
    return max(1, math.ceil((frees_at - now).total_seconds()))


async def record_failure(sessions: async_sessionmaker[AsyncSession], username: str,
                         address: str, now: datetime | None = None) -> None:
    """Count a failure (its own transaction: the login's is rolled back) and forget
    everyone's failures older than the window."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        await session.execute(insert(LoginFailure).values(
            username=username, address=address[:64], failed_at=now))
        await session.execute(delete(LoginFailure).where(
            LoginFailure.failed_at <= now - timedelta(seconds=WINDOW_S)))


async def clear(session: AsyncSession, username: str, address: str) -> None:
    await session.execute(delete(LoginFailure).where(
        LoginFailure.username == username, LoginFailure.address == address[:64]))


__all__ = ["MAX_FAILURES", "WINDOW_S", "LoginFailure", "clear", "record_failure", "retry_after"]
