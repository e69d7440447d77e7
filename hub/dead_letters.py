"""Dead letters per edge: what an edge sent that broke the contract, counted in its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import DeadLetter


@dataclass(frozen=True)
class DeadLetterCount:
    count: int
    last_at: datetime | None
    last_reason: str | None


async def dead_letters_of(session: AsyncSession, site_id: str, edge: str) -> DeadLetterCount:
    """How many messages under the edge's topic prefix went to the dead letters, and the
    latest one's time and reason (kept whole in `dead_letters`)."""
    mine = (DeadLetter.site_id == site_id, DeadLetter.edge == edge)
    count = await session.scalar(select(func.count()).select_from(DeadLetter).where(*mine))
    last = (await session.execute(
        select(DeadLetter.received_at, DeadLetter.reason).where(*mine)
        .order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(1))).first()
    return DeadLetterCount(count or 0, last[0] if last else None, last[1] if last else None)


async def dead_letter_counts(session: AsyncSession, site_id: str | None = None
                             ) -> dict[tuple[str, str], int]:
    """The count of each edge's dead letters, by (site, edge), in one query."""
    stmt = (select(DeadLetter.site_id, DeadLetter.edge, func.count())
            .where(DeadLetter.edge.is_not(None)).group_by(DeadLetter.site_id, DeadLetter.edge))
    if site_id is not None:
        stmt = stmt.where(DeadLetter.site_id == site_id)
    return {(site or "", edge or ""): count for site, edge, count in await session.execute(stmt)}


__all__ = ["DeadLetterCount", "dead_letter_counts", "dead_letters_of"]
