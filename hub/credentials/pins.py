"""Residents' keypad PINs: hashed at the hub, verified at the edge offline.

Stored as `pbkdf2_sha256$<iterations>$<salt>$<hash>` (what wire.ResidentPin carries). The
salt is random per resident, better than the per-site salt an edge could also verify: no
two residents' hashes can be attacked together, and a leaked snapshot of one site helps
with no other. A duress PIN is hashed with the same salt and iterations, so the edge answers
both with one derivation.

Iterations: PBKDF2-HMAC-SHA256 at 10,000 rounds costs 2.4 ms of CPU here (x86, hashlib;
about 5 ms of wall time on the loaded 2-core machine) and, by the usual 5-8x gap, 12-40 ms on
an edge's ARM core: one card + PIN decision stays under 50 ms. A 4-8 digit PIN cannot be
made unguessable by any hash an edge can afford to check (10^6 PINs x 2.4 ms is under an
hour on one core), so the hash only makes bulk recovery from a stolen snapshot slow; the
PIN's strength at the door is the card it goes with, the three-wrong-PINs alarm, and the hub
never sending the PIN itself. The rounds are written into each hash, so raising them later
takes effect as residents change their PIN.
"""

from __future__ import annotations

import base64
import hashlib
import os

PIN_ITERATIONS = 10_000
PIN_MIN, PIN_MAX = 4, 8


class PinError(ValueError):
    """A PIN that cannot be stored: the message says why; `field`, `code` and `params` say it
    for people (hub.texts)."""

    def __init__(self, field: str, reason: str, code: str, **params: object) -> None:
        super().__init__(f"{field} {reason}")
        self.field, self.reason, self.code, self.params = field, reason, code, params


def check_pin(pin: str, field: str = "pin") -> str:
    if not (pin.isascii() and pin.isdigit()):
        raise PinError(field, "must be digits only", "invalid.pin_digits")
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        raise PinError(field, f"must be {PIN_MIN} to {PIN_MAX} digits, got {len(pin)}",
                       "invalid.pin_length", min=PIN_MIN, max=PIN_MAX)
    if len(set(pin)) == 1:
        raise PinError(field, "must not repeat one digit", "invalid.pin_repeat")
    return pin


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = PIN_ITERATIONS) -> str:
    """`pin` hashed for the snapshot; pass the PIN hash's salt to hash its duress PIN."""
    salt = os.urandom(16) if salt is None else salt
    derived = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return (f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(derived).decode()}")


def salt_of(encoded: str) -> bytes:
    return base64.b64decode(encoded.split("$")[2])


def iterations_of(encoded: str) -> int:
    return int(encoded.split("$")[1])
