"""Signed credential tokens: the text a QR code holds, and the BLE challenge the phone signs.

A token is 26 bytes of claims followed by the hub's 64-byte Ed25519 signature over them,
written as base64url without padding: 120 ASCII characters, small enough for a QR code and
for one OSDP manufacturer report (128 bytes). Claims, big-endian:

    version u8 | type u8 | subject u32 | issued_at u32 | not_before u32 | expires u32 | nonce 8B

Times are Unix seconds (UTC). `subject` is a resident id (resident_qr) or a visitor pass id
(visitor_pass); what a pass may open (doors, uses, revocation) travels in the permission
snapshot, so the token stays fixed-size. The crypto lives on each side (hub signs, edge
verifies): this module only packs and unpacks, with pydantic and the standard library.
"""

from __future__ import annotations

import base64
import re
import struct
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, model_validator

from wire._base import Name, UtcDatetime, WireModel
from wire.errors import WireError

TOKEN_VERSION = 1
SIGNATURE_LEN = 64
_CLAIMS = struct.Struct(">BBIIII8s")
CLAIMS_LEN = _CLAIMS.size  # 26
TOKEN_TEXT_LEN = 120

TokenType = Literal["resident_qr", "visitor_pass", "ble"]
_TYPE_CODES: dict[TokenType, int] = {"resident_qr": 1, "visitor_pass": 2, "ble": 3}
_CODE_TYPES = {code: name for name, code in _TYPE_CODES.items()}
_U32 = 2**32 - 1
_TEXT = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenClaims(WireModel):
    type: TokenType
    subject: int = Field(ge=0, le=_U32, description="resident id or visitor pass id")
    issued_at: UtcDatetime
    not_before: UtcDatetime
    expires: UtcDatetime
    nonce: bytes = Field(min_length=8, max_length=8)

    @model_validator(mode="after")
    def _window(self) -> TokenClaims:
        if self.expires <= self.not_before:
            raise ValueError("expires must be after not_before")
        return self

    def pack(self) -> bytes:
        """The 26 bytes the signature covers."""
        return _CLAIMS.pack(
            TOKEN_VERSION, _TYPE_CODES[self.type], self.subject, _secs(self.issued_at),
            _secs(self.not_before), _secs(self.expires), self.nonce,
        )


def encode_token(claims: TokenClaims, signature: bytes) -> str:
    if len(signature) != SIGNATURE_LEN:
        raise WireError(f"signature must be {SIGNATURE_LEN} bytes, got {len(signature)}")
    return base64.urlsafe_b64encode(claims.pack() + signature).rstrip(b"=").decode("ascii")


def decode_token(text: str | bytes) -> tuple[TokenClaims, bytes, bytes]:
    """(claims, the signed bytes, signature) of a token, or WireError saying what is wrong.

    Nothing here checks the signature or the time: that is the verifier's job.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise WireError("token is not ASCII") from exc
    text = text.strip()
    if len(text) != TOKEN_TEXT_LEN:
        raise WireError(f"token must be {TOKEN_TEXT_LEN} characters, got {len(text)}")
    if not _TEXT.match(text):
        raise WireError("token is not base64url (A-Z a-z 0-9 - _)")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    signed, signature = raw[:CLAIMS_LEN], raw[CLAIMS_LEN:]
    version, code, subject, iat, nbf, exp, nonce = _CLAIMS.unpack(signed)
    if version != TOKEN_VERSION:
        raise WireError(f"token version {version} is not supported (expected {TOKEN_VERSION})")
    kind = _CODE_TYPES.get(code)
    if kind is None:
        raise WireError(f"unknown token type code {code}")
    try:
        claims = TokenClaims(
            type=kind,
            subject=subject, issued_at=_time(iat), not_before=_time(nbf),
            expires=_time(exp), nonce=nonce,
        )
    except ValueError as exc:
        raise WireError(f"token claims are invalid: {exc}") from exc
    return claims, signed, signature


class BleChallenge(WireModel):
    """What a BLE reader asks a phone to sign: fresh nonce, the door and the reader's time."""

    nonce: bytes = Field(min_length=16, max_length=16)
    door: Name
    issued_at: UtcDatetime

    def signing_bytes(self) -> bytes:
        """Domain-separated bytes the phone signs, so a signature means nothing elsewhere."""
        return b"lintel-ble-v1|" + self.nonce + b"|" + self.door.encode() + b"|" + (
            _secs(self.issued_at).to_bytes(4, "big")
        )


class BleAnswer(WireModel):
    """The phone's answer: which registered key, and its Ed25519 signature of the challenge."""

    key_id: int = Field(ge=1)
    nonce: bytes = Field(min_length=16, max_length=16, description="the challenge answered")
    signature: bytes = Field(min_length=SIGNATURE_LEN, max_length=SIGNATURE_LEN)


def _secs(moment: datetime) -> int:
    value = int(moment.timestamp())
    if not 0 <= value <= _U32:
        raise WireError(f"time {moment.isoformat()} does not fit the token")
    return value


def _time(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, UTC)
