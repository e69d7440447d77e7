"""Issue signed tokens: rotating resident QR codes and visitor pass codes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.credentials.keys import public_key_b64
from wire.tokens import TokenClaims, TokenType, encode_token

QR_PERIOD_S = 30  # a resident's QR code changes every 30 s
QR_GRACE_S = 10  # ... and stays valid that much longer, for the walk to the reader


@dataclass(frozen=True, slots=True)
class IssuedToken:
    text: str
    claims: TokenClaims


class TokenSigner:
    """Signs tokens with the hub's key; `public_key` is what every edge receives."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = public_key_b64(key)

    def sign(self, kind: TokenType, subject: int, not_before: datetime, expires: datetime,
             now: datetime | None = None) -> IssuedToken:
        issued = _second(now or datetime.now(UTC))
        claims = TokenClaims(
            type=kind, subject=subject, issued_at=issued, not_before=_second(not_before),
            expires=_second(expires), nonce=os.urandom(8),
        )
        return IssuedToken(encode_token(claims, self._key.sign(claims.pack())), claims)

    def resident_qr(self, resident_id: int, now: datetime | None = None) -> IssuedToken:
        """The QR token of the current 30 s period: valid from its start to its end + grace.

        Each call makes a new nonce, so two phones of one resident show different codes.
        """
        now = now or datetime.now(UTC)
        start = datetime.fromtimestamp(int(now.timestamp()) // QR_PERIOD_S * QR_PERIOD_S, UTC)
        return self.sign("resident_qr", resident_id, start,
                         start + timedelta(seconds=QR_PERIOD_S + QR_GRACE_S), now)

    def visitor_pass(self, pass_id: int, valid_from: datetime, valid_until: datetime,
                     now: datetime | None = None) -> IssuedToken:
        return self.sign("visitor_pass", pass_id, valid_from, valid_until, now)


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)
