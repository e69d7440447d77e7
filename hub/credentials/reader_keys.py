"""Readers' secure channel keys the edges report sealed to the hub's signing key.

The edge seals a reader's new key to the X25519 form of the hub's Ed25519 key (see
edge/reader_keys.py). The hub opens it with the X25519 form of its own secret: the first 32
bytes of SHA-512 of the Ed25519 seed, the scalar Ed25519 itself signs with.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

SEAL_VERSION = 1
SEAL_INFO = b"lintel reader key v1"
_LEN = 1 + 8 + 32 + 12 + 16 + 16


class SealError(ValueError):
    """A sealed reader key the hub cannot open: the message says why."""


def key_id(key: Ed25519PrivateKey) -> bytes:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:8]


def open_sealed(sealed_b64: str, keys: list[Ed25519PrivateKey], context: str) -> bytes:
    """The reader key inside `sealed_b64`, sealed to one of `keys` for `context`
    (`<site>/<edge>/<door>/<address>`)."""
    try:
        raw = base64.b64decode(sealed_b64, validate=True)
    except ValueError as exc:
        raise SealError("sealed key is not base64") from exc
    if len(raw) != _LEN or raw[0] != SEAL_VERSION:
        raise SealError(f"sealed key has {len(raw)} bytes or an unknown version")
    wanted, eph_pub, nonce, box = raw[1:9], raw[9:41], raw[41:53], raw[53:]
    key = next((k for k in keys if key_id(k) == wanted), None)
    if key is None:
        raise SealError("sealed to a hub key this hub does not hold")
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    mine = X25519PrivateKey.from_private_bytes(hashlib.sha512(seed).digest()[:32])
    shared = mine.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    secret = HKDF(SHA256(), 32, salt=eph_pub, info=SEAL_INFO).derive(shared)
    try:
        return AESGCM(secret).decrypt(nonce, box, context.encode())
    except InvalidTag as exc:
        raise SealError(f"sealed key does not open for {context}") from exc
