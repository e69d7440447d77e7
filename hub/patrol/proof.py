"""How a reading proves the guard was at the checkpoint (docs/patrol.md, "Proof").

Two things, both checked by the hub, both verifiable long after the fact (offline phones):
- the checkpoint's small display shows a code that changes every `STEP_S` seconds, an HMAC of
  the checkpoint's secret and the time step (like TOTP, RFC 6238): a photocopy or a photo of
  the tag is worth nothing a few minutes later, and the code names the time it was read;
- the guard's phone signs the reading (site, round, checkpoint, code, reading time, reading
  id) with its Ed25519 key, enrolled at the hub like residents' phone keys: nobody else can
  record a round in the guard's name, and a signed reading cannot be moved to another round,
  checkpoint or time. The reading id is the idempotency key: the same reading sent twice is
  stored once; the same id with other content is a replay and refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wire.patrol import CODE_DIGITS, STEP_S, display_code, reading_bytes, step_of

SKEW_STEPS = 1  # the phone's clock and the display's may differ by a step either way


def new_secret() -> str:
    """A checkpoint display's secret (hex), given to the display once at installation."""
    return secrets.token_hex(20)


def code_matches(secret_hex: str, site: str, checkpoint: str, code: str, ts: datetime) -> bool:
    """Whether `code` is what the display showed at `ts` (a step either side)."""
    step = step_of(ts)
    return any(hmac.compare_digest(display_code(secret_hex, site, checkpoint, s), code)
               for s in range(step - SKEW_STEPS, step + SKEW_STEPS + 1))


def signature_valid(public_key_b64: str, signature_b64: str, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


__all__ = ["CODE_DIGITS", "SKEW_STEPS", "STEP_S", "code_matches", "display_code", "new_secret",
           "reading_bytes", "signature_valid", "step_of"]
