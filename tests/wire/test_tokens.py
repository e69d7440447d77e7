"""The token format: fixed size, strict decoding, each defect named."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from wire import WireError
from wire.tokens import TOKEN_TEXT_LEN, BleChallenge, TokenClaims, decode_token, encode_token

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CLAIMS = TokenClaims(type="visitor_pass", subject=42, issued_at=NOW, not_before=NOW,
                     expires=NOW + timedelta(hours=1), nonce=b"12345678")


def test_round_trip() -> None:
    text = encode_token(CLAIMS, b"s" * 64)
    assert len(text) == TOKEN_TEXT_LEN
    claims, signed, signature = decode_token(text.encode())
    assert (claims, signed, signature) == (CLAIMS, CLAIMS.pack(), b"s" * 64)


def _with_header(version: int, code: int) -> str:
    raw = bytearray(CLAIMS.pack() + b"s" * 64)
    raw[0], raw[1] = version, code
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(("text", "reason"), [
    ("abc", "must be 120 characters"),
    ("+" * TOKEN_TEXT_LEN, "not base64url"),
    (_with_header(9, 1), "version 9 is not supported"),
    (_with_header(1, 77), "unknown token type code 77"),
])
def test_defects_are_named(text: str, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode_token(text)


def test_window_must_be_ordered_and_signature_sized() -> None:
    with pytest.raises(ValueError, match="expires must be after not_before"):
        TokenClaims.model_validate({**CLAIMS.model_dump(), "expires": NOW})
    with pytest.raises(WireError, match="64 bytes"):
        encode_token(CLAIMS, b"short")


def test_ble_challenge_bytes_bind_door_and_time() -> None:
    base = BleChallenge(nonce=b"n" * 16, door="lobby", issued_at=NOW)
    assert base.signing_bytes() != base.model_copy(update={"door": "gym"}).signing_bytes()
    later = base.model_copy(update={"issued_at": NOW + timedelta(seconds=1)})
    assert base.signing_bytes() != later.signing_bytes()
