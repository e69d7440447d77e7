"""The signed downlink's envelope: every hub → edge payload is sealed with the hub's signature.

    LSIG1 <kid> <base64url signature, no padding>\\n<body>

The Ed25519 signature covers `signing_bytes(topic, body)`: the topic names the target site and
edge, the body the version or command id, so a message verifies only where and as it was sent.
The crypto lives on each side (the hub signs, the edge verifies): this module only frames,
with the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import NamedTuple

from wire.errors import WireError

MAGIC = b"LSIG1 "
DOMAIN = b"lintel-downlink-v1\n"
SIGNATURE_LEN = 64
_KID = re.compile(rb"^[0-9a-f]{16}$")
_SIG = re.compile(rb"^[A-Za-z0-9_-]{86}$")  # 64 bytes in base64url without padding
_HEADER_MAX = len(MAGIC) + 16 + 1 + 86 + 8  # room for the header; anything longer is malformed


class Sealed(NamedTuple):
    kid: str
    signature: bytes
    body: bytes


def key_id(public_raw: bytes) -> str:
    """The 16 hex digits that name a public key: sha256 of its 32 raw bytes, first 8 bytes."""
    return hashlib.sha256(public_raw).digest()[:8].hex()


def signing_bytes(topic: str, body: bytes) -> bytes:
    """What the signature covers: a domain tag (no other Lintel signature can be replayed as
    one of these), the topic, and the body."""
    return DOMAIN + topic.encode() + b"\n" + body


def seal(body: bytes, kid: str, signature: bytes) -> bytes:
    """The full MQTT payload."""
    if not _KID.match(kid.encode()):
        raise WireError(f"key id {kid!r} is not 16 hex digits")
    if len(signature) != SIGNATURE_LEN:
        raise WireError(f"signature is {len(signature)} bytes, Ed25519 makes {SIGNATURE_LEN}")
    sig = base64.urlsafe_b64encode(signature).rstrip(b"=")
    return MAGIC + kid.encode() + b" " + sig + b"\n" + body


def unseal(payload: bytes) -> Sealed:
    """Split a sealed payload, or raise WireError: "unsigned message" when it carries no seal,
    "malformed signature header: ..." when the seal is there but not readable."""
    if not payload.startswith(MAGIC):
        raise WireError("unsigned message")
    end = payload.find(b"\n", 0, _HEADER_MAX)
    if end < 0:
        raise WireError("malformed signature header: no end of line after the header")
    parts = payload[len(MAGIC):end].split(b" ")
    if len(parts) != 2:
        raise WireError("malformed signature header: expected '<kid> <signature>'")
    kid, sig = parts
    if not _KID.match(kid):
        raise WireError("malformed signature header: the key id is not 16 hex digits")
    if not _SIG.match(sig):
        raise WireError("malformed signature header: the signature is not 86 base64url "
                        f"characters (an Ed25519 signature of {SIGNATURE_LEN} bytes)")
    try:
        signature = base64.urlsafe_b64decode(sig + b"==")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the pattern rules it out
        raise WireError("malformed signature header: the signature is not base64url") from exc
    return Sealed(kid.decode(), signature, payload[end + 1:])
