"""Login throttling, counted in the database so every hub worker sees the same numbers.

An attempt is counted BEFORE its password is checked: `begin()` commits a row for it, then
counts the rows within the window; only an attempt whose count is within every limit goes on
to the password. Any attempt sees at least the rows committed before its own, so of many
concurrent attempts at most a limit's worth go on, whatever the interleaving (the same on
PostgreSQL and SQLite, with no lock held across the password check). A refused attempt takes
its row back (hammering while refused does not push the release further out); a failed one
leaves it; a successful login clears its (username, address) pair.

Limits within `WINDOW_S`, each until the oldest of the counted attempts leaves the window:
`MAX_FAILURES` for one username from one address (the person who mistyped), `MAX_PER_ACCOUNT`
for one username from any address (guessing spread over many addresses) and
`MAX_PER_ADDRESS` for one address and any username (one address trying many accounts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Index, Integer, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow

MAX_FAILURES = 5
MAX_PER_ACCOUNT = 20
MAX_PER_ADDRESS = 20
WINDOW_S = 60.0


class LoginFailure(Base):
    """An attempt in progress or a failed one (the name predates counting attempts)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_who", "username", "address", "failed_at"),
        # migration 0024a: counting per address across usernames
        Index("ix_login_failures_address", "address", "failed_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


@dataclass(frozen=True)
class Attempt:
    """An attempt allowed to check its password; its row is counted until `succeeded()`."""

    id: int
    username: str
    address: str


class Throttled(Exception):
    """Too many attempts for `which` ("username and address", "username", "address")."""

    def __init__(self, which: str, retry_after: int) -> None:
        super().__init__(f"too many failed logins for this {which}; retry in {retry_after} s")
        self.which = which
        self.retry_after = retry_after


def _limits(username: str, address: str) -> list[tuple[str, int, ColumnElement[bool]]]:
    pair = (LoginFailure.username == username) & (LoginFailure.address == address)
    return [
        ("username and address", MAX_FAILURES, pair),
        ("username", MAX_PER_ACCOUNT, LoginFailure.username == username),
        ("address", MAX_PER_ADDRESS, LoginFailure.address == address),
    ]


async def begin(sessions: async_sessionmaker[AsyncSession], username: str, address: str,
                now: datetime | None = None) -> Attempt:
    """Count an attempt, or raise Throttled (and count nothing) when a limit is reached."""
    now = now or utcnow()
    username, address = username[:64], address[:64]
    async with sessions() as session, session.begin():
        mine = (await session.execute(insert(LoginFailure).values(
            username=username, address=address, failed_at=now).returning(LoginFailure.id))
        ).scalar_one()
    # committed: every attempt that counts from now on sees this one
    since = now - timedelta(seconds=WINDOW_S)
    refused: Throttled | None = None
    async with sessions() as session:
        for which, most, match in _limits(username, address):
            rows = (await session.execute(
                select(LoginFailure.id, LoginFailure.failed_at)
                .where(match, LoginFailure.failed_at > since)
                .order_by(LoginFailure.failed_at, LoginFailure.id))).all()
            if len(rows) <= most:
                continue
            others = [at for row_id, at in rows if row_id != mine]
            # it may try again once enough of the others have left the window
            frees_at = others[len(others) - most] + timedelta(seconds=WINDOW_S)
            wait = max(1, math.ceil((frees_at - now).total_seconds()))
            if refused is None or wait > refused.retry_after:
                refused = Throttled(which, wait)
    if refused is not None:
        await _forget(sessions, mine)
        raise refused
    return Attempt(mine, username, address)


async def failed(sessions: async_sessionmaker[AsyncSession], attempt: Attempt,
                 now: datetime | None = None) -> None:
    """The password was wrong: the attempt stays counted; everyone's older ones are dropped."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        await session.execute(delete(LoginFailure).where(
            LoginFailure.failed_at <= now - timedelta(seconds=WINDOW_S)))


async def succeeded(session: AsyncSession, attempt: Attempt) -> None:
    """Within the login's transaction: clear the pair's count (this attempt's row too)."""
    await session.execute(delete(LoginFailure).where(
        LoginFailure.username == attempt.username, LoginFailure.address == attempt.address))


async def abandoned(sessions: async_sessionmaker[AsyncSession], attempt: Attempt) -> None:
    """The attempt ended without a verdict on the password (an error): it does not count."""
    await _forget(sessions, attempt.id)


async def _forget(sessions: async_sessionmaker[AsyncSession], row_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(delete(LoginFailure).where(LoginFailure.id == row_id))


__all__ = ["MAX_FAILURES", "MAX_PER_ACCOUNT", "MAX_PER_ADDRESS", "WINDOW_S", "Attempt",
           "LoginFailure", "Throttled", "abandoned", "begin", "failed", "succeeded"]
