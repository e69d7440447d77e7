"""Opaque keyset cursors: urlsafe base64 of the last item's (timestamp, id); search patterns."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TypeVar

from hub.texts.validation import Refusal

K = TypeVar("K", str, int)


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


def like(text: str) -> str:
    """A LIKE pattern (escape character backslash) for `text` anywhere, its own % and _
    taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
