"""The patrol contract between a checkpoint's display, the guard's phone and the hub: the
code a display shows for a time step, and the bytes the phone signs (docs/patrol.md)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

STEP_S = 60  # a display's code changes every minute
CODE_DIGITS = 6


def step_of(ts: datetime) -> int:
    return int(ts.timestamp()) // STEP_S


def display_code(secret_hex: str, site: str, checkpoint: str, step: int) -> str:
    """The code a checkpoint's display shows during `step` (RFC 4226 truncation)."""
    digest = hmac.new(bytes.fromhex(secret_hex), f"{site}|{checkpoint}|{step}".encode(),
                      hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10 ** CODE_DIGITS).zfill(CODE_DIGITS)


def reading_bytes(site: str, round_id: int, checkpoint: str, code: str, ts: datetime,
                  reading_id: str) -> bytes:
    """What the guard's phone signs with its enrolled Ed25519 key."""
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"lintel-patrol/1\n{site}\n{round_id}\n{checkpoint}\n{code}\n{stamp}\n{reading_id}".encode()


__all__ = ["CODE_DIGITS", "STEP_S", "display_code", "reading_bytes", "step_of"]
