"""An event's id tells where in time to look for it: a UUIDv7 carries the edge's milliseconds,
stamped with the event's ts, so a look by id on the partitioned event log (PostgreSQL, key
(id, ts)) reads only the partitions of the days around that time, plus the table of the rare
ids stored far from it (`EventIdOutlier`, kept by the ingest; migration 0048a)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import EventIdOutlier, EventLog

# How far from its id's time an event's ts may lie and still be looked for there; one further
# is an outlier (the ingest keeps those in event_id_outliers).
ID_WINDOW = timedelta(days=1)
# the ingest reads every stored event's id time: uuid.UUID() cost twice the slicing
_CANONICAL_V7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def id_time(event_id: str) -> datetime | None:
    """The time a UUIDv7 id carries (its first 48 bits, Unix milliseconds); None for others."""
    if _CANONICAL_V7.match(event_id):  # as the wire writes them: the hex read in place
        return datetime.fromtimestamp(int(event_id[:8] + event_id[9:13], 16) / 1000, UTC)
    try:
        value = uuid.UUID(event_id).int
    except ValueError:
        return None
    if (value >> 76) & 0xF != 7:
        return None
    return datetime.fromtimestamp((value >> 80) / 1000, UTC)


def is_uuid(text: str) -> bool:
    """Whether `text` is a UUID in its canonical form (what the event log's ids are)."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


async def find_event(session: AsyncSession, event_id: str) -> EventLog | None:
    """The stored event of `event_id`, or None. On PostgreSQL the look is bounded by the id's
    time (the days around it: one or two monthly partitions), then by the ts of an outlier;
    SQLite's key is the id alone."""
    if not is_uuid(event_id):
        return None  # an id that is no UUID names nothing (nor may it reach a uuid column)
    by_id = select(EventLog).where(EventLog.id == event_id)
    if session.get_bind().dialect.name != "postgresql":
        return await session.scalar(by_id.limit(1))
    at = id_time(event_id)
    if at is not None:
        found = await session.scalar(by_id.where(
            EventLog.ts >= at - ID_WINDOW, EventLog.ts <= at + ID_WINDOW).limit(1))
        if found is not None:
            return found
    ts = await session.scalar(select(EventIdOutlier.ts).where(EventIdOutlier.id == event_id))
    if ts is None:
        return None
    return await session.scalar(by_id.where(EventLog.ts == ts).limit(1))


__all__ = ["ID_WINDOW", "find_event", "id_time", "is_uuid"]
