"""Sign every hub → edge message (wire.signed): the edge acts only on what verifies.

One signer per hub process, built from the hub's signing key (hub.credentials.keys). During a
key rollover the hub also holds the next key: it still signs with the current one, and tells
the edges (`public_keys`) to accept both, so switching to the next key later strands nobody.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wire.signed import key_id, seal, signing_bytes


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


class DownlinkSigner:
    """`sign(topic, body)` is the full MQTT payload to publish on `topic`."""

    def __init__(self, key: Ed25519PrivateKey, next_key: Ed25519PrivateKey | None = None) -> None:
        self._key = key
        raw = _raw_public(key)
        self.kid: str = key_id(raw)
        self.public_key: str = base64.b64encode(raw).decode()  # the key that signs now
        # the keys the edges should accept: the current one, then the next during a rollover
        self.public_keys: list[str] = [self.public_key]
        if next_key is not None:
            upcoming = base64.b64encode(_raw_public(next_key)).decode()
            if upcoming != self.public_key:
                self.public_keys.append(upcoming)

    def sign(self, topic: str, body: bytes) -> bytes:
        return seal(body, self.kid, self._key.sign(signing_bytes(topic, body)))


__all__ = ["DownlinkSigner"]
