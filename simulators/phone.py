"""A resident's phone, the phone's half of Bluetooth opening (and a QR screen).

It holds an Ed25519 key pair, registers the public key through the hub API
(`POST /api/v1/me/phone-keys`), and answers a reader's challenge by signing it. It can also
fetch the resident's current QR token (`GET /api/v1/me/qr`) as the app would.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wire.tokens import BleAnswer, BleChallenge


class PhoneError(Exception):
    """The hub refused the phone's request or could not be reached."""


class PhoneSimulator:
    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self._key = key or Ed25519PrivateKey.generate()
        self.key_id: int | None = None  # set by register()

    @property
    def public_key(self) -> str:
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    async def register(self, api_url: str, token: str, label: str = "phone") -> dict[str, Any]:
        """Register this phone's public key for the resident behind `token`."""
        reply = await _call("POST", f"{api_url.rstrip('/')}/me/phone-keys", token,
                            {"public_key": self.public_key, "label": label})
        self.key_id = int(reply["id"])
        return reply

    async def qr_token(self, api_url: str, token: str) -> str:
        """The resident's current QR token, as the app shows it."""
        reply = await _call("GET", f"{api_url.rstrip('/')}/me/qr", token)
        return str(reply["token"])

    def answer(self, challenge: BleChallenge, key_id: int | None = None) -> BleAnswer:
        """Sign the reader's challenge with this phone's key."""
        kid = key_id if key_id is not None else self.key_id
        if kid is None:
            raise PhoneError("the phone has no registered key id: register() first")
        return BleAnswer(key_id=kid, nonce=challenge.nonce,
                         signature=self._key.sign(challenge.signing_bytes()))


async def _call(method: str, url: str, token: str, body: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as session, session.request(
            method, url, json=body, headers=headers
        ) as resp:
            reply: dict[str, Any] = await resp.json()
            if resp.status >= 400:
                raise PhoneError(f"{method} {url} failed ({resp.status}): {reply}")
            return reply
    except aiohttp.ClientError as exc:
        raise PhoneError(f"cannot reach the hub at {url}: {exc}") from exc
