"""Signed credentials on the hub side: the signing key, tokens, QR images, snapshot grants."""

from hub.credentials.keys import load_signing_key, public_key_b64
from hub.credentials.signing import TokenSigner

__all__ = ["TokenSigner", "load_signing_key", "public_key_b64"]
