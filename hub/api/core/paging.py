"""Opaque keyset cursors: urlsafe base64 of the last item's (timestamp, id); newest-first pages
read by them; the total of an offset page; search patterns."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from hub.texts.validation import Refusal

K = TypeVar("K", str, int)
R = TypeVar("R")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def encode_cursor(ts: datetime, key: str | int) -> str:
    raw = json.dumps([ts.isoformat(), key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key_type: type[K]) -> tuple[datetime, K]:
    """Raise ValueError (with a reason fit for the caller) on anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts_text, key = json.loads(raw)
        ts = datetime.fromisoformat(ts_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Refusal("invalid.cursor", "not a cursor this API issued") from exc
    if ts.tzinfo is None or type(key) is not key_type:
        raise Refusal("invalid.cursor", "not a cursor this API issued")
    return ts, key


def newest_first(stmt: S, ts: InstrumentedAttribute[datetime], key: InstrumentedAttribute[Any],
                 cursor: str | None, key_type: type[K], limit: int) -> S:
    """`stmt` newest first by (`ts`, `key`), from after the row `cursor` names, one row more
    than the page: that row only tells whether another page follows (`page_of`)."""
    if cursor is not None:
        at, last = decode_cursor(cursor, key_type)
        stmt = stmt.where(or_(ts < at, and_(ts == at, key < last)))
    return stmt.order_by(ts.desc(), key.desc()).limit(limit + 1)


def page_of(rows: Sequence[R], limit: int, position: Callable[[R], tuple[datetime, str | int]]
            ) -> tuple[list[R], str | None]:
    """The page of the rows `newest_first` read, and the cursor of the next (None: the last)."""
    page = list(rows[:limit])
    return page, encode_cursor(*position(page[-1])) if len(rows) > limit else None


async def offset_total(session: AsyncSession, shown: int, offset: int, limit: int | None,
                       count: Select[int]) -> int:
    """How many rows match, all pages together, for a page of `shown` rows read from `offset`
    (at most `limit`): the page tells when it holds the rest (no limit, or the first page not
    full); else `count` (the filters' SELECT count(*)) asks the database."""
    if limit is None or (not offset and shown < limit):
        return shown + offset
    return int(await session.scalar(count) or 0)


def like(text: str) -> str:
    """A LIKE pattern (escape character backslash) for `text` anywhere, its own % and _
    taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
