"""Keypad PINs verified at the edge, offline, against the salted hashes the hub compiled.

The hub stores `pbkdf2_sha256$<iterations>$<salt>$<hash>` per resident (salt random per
resident, iterations chosen so one check stays well under 50 ms on an edge: see
hub/credentials/pins.py). A duress PIN shares the salt and iterations, so one derivation
answers both; the comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

from wire import ResidentPin

PinResult = Literal["ok", "duress", "wrong"]
PIN_MIN, PIN_MAX = 4, 8


def _derive(encoded: str, pin: str) -> tuple[bytes, bytes]:
    """(derived from `pin`, stored) for a stored `pbkdf2_sha256$n$salt$hash`."""
    _, iterations, salt, stored = encoded.split("$")
    derived = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), base64.b64decode(salt),
                                  int(iterations))
    return derived, base64.b64decode(stored)


def verify_pin(record: ResidentPin, pin: str) -> PinResult:
    """Is `pin` the resident's PIN, their duress PIN, or neither."""
    if not (pin.isdigit() and PIN_MIN <= len(pin) <= PIN_MAX):
        return "wrong"
    derived, stored = _derive(record.hash, pin)
    if hmac.compare_digest(derived, stored):
        return "ok"
    if record.duress_hash is not None:
        duress = base64.b64decode(record.duress_hash.rsplit("$", 1)[1])
        if hmac.compare_digest(derived, duress):
            return "duress"
    return "wrong"
