"""The doors' reader keys: kept on the edge, and sealed to the hub so it can give them back.

A reader commissioned or rotated at this edge holds a key nobody else chose. The edge keeps it
in `reader-keys.json` (mode 0600) beside its other state and uses it over the configured one
from then on. It reports it to the hub sealed, not as a fingerprint: a replacement edge, or
a configuration the hub compiles later, must carry the key, and only the hub should read it.
The seal needs no new key material: the hub's Ed25519 signing key, which every edge already
trusts, converts to an X25519 key (the Edwards curve's y maps to Montgomery's u, as
libsodium's crypto_sign_ed25519_pk_to_curve25519 does); an ephemeral X25519 exchange, HKDF
and AES-GCM bound to the site, edge, door and OSDP address do the rest. The broker, the event
store and anyone reading the hub's database see only the sealed box and the fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from edge.errors import EdgeError

_P = 2**255 - 19
SEAL_VERSION = 1
SEAL_INFO = b"lintel reader key v1"


def fingerprint(key: bytes) -> str:
    """The first 8 bytes of the key's SHA-256, hex: names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:16]


def x25519_from_ed25519(public_b64: str) -> X25519PublicKey:
    """The X25519 public key of the same secret as an Ed25519 public key (raw, base64)."""
    raw = base64.b64decode(public_b64, validate=True)
    if len(raw) != 32:
        raise EdgeError(f"hub key {public_b64!r} is not a raw Ed25519 public key")
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, _P - 2, _P) % _P
    return X25519PublicKey.from_public_bytes(u.to_bytes(32, "little"))


def seal_key(key: bytes, hub_public_b64: str, context: str) -> str:
    """`key` sealed to the hub key: base64 of version | hub key id (8) | ephemeral public
    key (32) | nonce (12) | AES-GCM(key) with `context` as associated data."""
    hub = x25519_from_ed25519(hub_public_b64)
    ephemeral = X25519PrivateKey.generate()
    eph_pub = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    secret = HKDF(SHA256(), 32, salt=eph_pub, info=SEAL_INFO).derive(ephemeral.exchange(hub))
    nonce = os.urandom(12)
    box = AESGCM(secret).encrypt(nonce, key, context.encode())
    key_id = hashlib.sha256(base64.b64decode(hub_public_b64)).digest()[:8]
    return base64.b64encode(bytes([SEAL_VERSION]) + key_id + eph_pub + nonce + box).decode()


class ReaderKeyStore:
    """Keys readers took at this edge, by door, for the reader's line and address."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: dict[str, dict[str, str | int]] = {}
        if path.exists():
            try:
                self._keys = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise EdgeError(f"{path}: reader keys unreadable: {exc}") from exc

    def get(self, door: str, port: str, address: int) -> bytes | None:
        """The key the door's reader took here, if it is still that reader (line, address)."""
        entry = self._keys.get(door)
        if entry is None or (entry.get("port"), entry.get("address")) != (port, address):
            return None
        return bytes.fromhex(str(entry["key"]))

    def put(self, door: str, port: str, address: int, key: bytes) -> None:
        self._keys[door] = {"port": port, "address": address, "key": key.hex()}
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._keys, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)  # the old key file stays whole until the new one is
