"""A hub signing key for tests and benchmarks that play the hub's part (or build its parts alone)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.credentials.downlink import DownlinkSigner
from hub.credentials.keys import seed_b64

TEST_HUB_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = DownlinkSigner(TEST_HUB_KEY)
HUB_KEYS = SIGNER.public_keys  # what an edge's config lists to trust TEST_HUB_KEY
TEST_HUB_SEED = seed_b64(TEST_HUB_KEY)  # a hub's `signing_key` setting to sign with it


def signed(topic: str, body: bytes | str) -> bytes:
    """`body` as the hub would publish it on `topic`."""
    return SIGNER.sign(topic, body.encode() if isinstance(body, str) else body)


def opened(topic: str, payload: bytes) -> bytes:
    """The body of a message the hub signed with TEST_HUB_KEY for `topic` (or an error)."""
    from edge.trust import DownlinkVerifier

    return DownlinkVerifier(HUB_KEYS).verify(topic, payload)
