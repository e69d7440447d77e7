"""The downlink envelope: framing only (the signature's crypto is each side's)."""

from __future__ import annotations

import base64

import pytest

from wire.errors import WireError
from wire.signed import MAGIC, Sealed, key_id, seal, signing_bytes, unseal

SIG = bytes(range(64))


def test_seal_then_unseal_gives_back_kid_signature_and_body() -> None:
    body = b'{"id":"x"}\nsecond line\n'
    payload = seal(body, "0123456789abcdef", SIG)
    assert payload.startswith(MAGIC + b"0123456789abcdef ")
    assert unseal(payload) == Sealed("0123456789abcdef", SIG, body)


def test_the_signature_is_base64url_without_padding() -> None:
    header = seal(b"", "0123456789abcdef", b"\xff" * 64).split(b"\n")[0]
    sig = header.split(b" ")[2]
    assert b"=" not in sig and b"+" not in sig and b"/" not in sig
    assert base64.urlsafe_b64decode(sig + b"==") == b"\xff" * 64


def test_key_id_is_16_hex_digits_of_the_keys_sha256() -> None:
    assert key_id(b"\x00" * 32) == "66687aadf862bd77"


def test_signing_bytes_bind_domain_topic_and_body() -> None:
    assert signing_bytes("lintel/v1/s/e/cmd", b"{}") == b"lintel-downlink-v1\nlintel/v1/s/e/cmd\n{}"


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"version":1}', "unsigned message"),
    (b"", "unsigned message"),
    (b"LSIG1 0123456789abcdef", "malformed signature header: no end of line"),
    (b"LSIG1 0123456789abcdef\n{}", "malformed signature header: expected"),
    (b"LSIG1 0123456789ABCDEF " + b"A" * 86 + b"\n{}", "the key id is not 16 hex digits"),
    (b"LSIG1 0123456789abcdef " + b"A" * 85 + b"\n{}", "not 86 base64url characters"),
    (b"LSIG1 0123456789abcdef " + b"A" * 85 + b"=\n{}", "not 86 base64url characters"),
    (b"LSIG1 0123456789abcdef " + b"A" * 86 + b" x\n{}", "expected '<kid> <signature>'"),
])
def test_unseal_refuses_with_the_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        unseal(payload)


def test_seal_refuses_a_bad_kid_or_signature_length() -> None:
    with pytest.raises(WireError, match="key id"):
        seal(b"", "nothex", SIG)
    with pytest.raises(WireError, match="63 bytes"):
        seal(b"", "0123456789abcdef", SIG[:63])
