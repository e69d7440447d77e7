"""Signed credentials at the door, decided offline: QR tokens, visitor passes, Bluetooth.

A token's signature is checked with the hub's public key from the permission snapshot, its
validity window with the edge's clock (allowing `skew_s` of clock drift), and then the grant
it names (`qr:<resident>`, `pass:<id>`, `ble:<key>`) goes through the card decision, so
status, validity, groups, schedules and door modes apply exactly as for a card.

The ledger (SQLite, WAL) remembers what must survive a restart: tokens already used at a
door (until they expire, so a replay is refused) and each visitor pass's uses.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.access.cache import CachedSnapshot, PermissionCache
from edge.access.decision import AccessDecider
from edge.access.errors import CacheStorageError
from edge.store import SqliteStore
from wire.errors import WireError
from wire.events import AccessReason, CredentialType
from wire.tokens import BleAnswer, BleChallenge, TokenClaims, decode_token

SKEW_S = 5.0  # clock drift allowed between hub and edge
CHALLENGE_TTL_S = 5.0  # a BLE answer must come this soon after the challenge
_MAX_CHALLENGES = 256

_PASS_REASONS: dict[AccessReason, AccessReason] = {
    "unknown_card": "unknown_pass", "revoked": "pass_revoked", "expired": "pass_expired",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_tokens (
    door TEXT NOT NULL, token BLOB NOT NULL, expires REAL NOT NULL, PRIMARY KEY (door, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pass_uses (pass_id INTEGER PRIMARY KEY, uses INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SignedDecision:
    """A decision on a signed credential, with what the access event reports about it."""

    result: Literal["granted", "denied"]
    reason: AccessReason
    credential_type: CredentialType
    credential: str
    resident_id: int | None
    decision_us: int
    pass_id: int | None = None
    pass_uses: int | None = None

    @property
    def granted(self) -> bool:
        return self.result == "granted"


def verify_signature(public_key_b64: str | None, signed: bytes, signature: bytes) -> bool:
    if public_key_b64 is None:
        return False  # no key held yet: nothing can be verified
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(signature, signed)
    except (InvalidSignature, ValueError):
        return False
    return True


class CredentialLedger(SqliteStore):
    """Used tokens per door (until they expire) and visitor pass uses, in SQLite."""

    def __init__(self, path: Path | str) -> None:
        try:  # FULL: a counted use survives power loss
            super().__init__(path, durability="FULL", schema=_SCHEMA)
        except sqlite3.Error as exc:
            raise CacheStorageError(str(path), f"cannot open the credential ledger: {exc}") from exc

    def use_token(self, door: str, token: bytes, expires: float, now: float) -> bool:
        """Record `token` as used at `door`; False if it already was (a replay)."""
        with self._lock:
            self._db.execute("DELETE FROM used_tokens WHERE expires < ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO used_tokens VALUES (?, ?, ?)", (door, token, expires)
            )
            return cursor.rowcount == 1

    def was_used(self, door: str, token: bytes, now: float) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM used_tokens WHERE door = ? AND token = ? AND expires >= ?",
                (door, token, now),
            ).fetchone()
        return row is not None

    def pass_uses(self, pass_id: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT uses FROM pass_uses WHERE pass_id = ?", (pass_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def count_pass_use(self, pass_id: int, at_least: int) -> int:
        """Count one use on top of max(local count, `at_least` known to the hub); the new count."""
        with self._lock:
            row = self._db.execute("SELECT uses FROM pass_uses WHERE pass_id = ?", (pass_id,)).fetchone()
            uses = max(0 if row is None else int(row[0]), at_least) + 1
            self._db.execute("INSERT OR REPLACE INTO pass_uses VALUES (?, ?)", (pass_id, uses))
            return uses



class SignedCredentialDecider:
    """Decides QR codes, visitor passes and Bluetooth answers at this edge's doors."""

    def __init__(self, cache: PermissionCache, ledger: CredentialLedger, *,
                 skew_s: float = SKEW_S, challenge_ttl_s: float = CHALLENGE_TTL_S) -> None:
        self._cache = cache
        self._cards = AccessDecider(cache)
        self._ledger = ledger
        self._skew = timedelta(seconds=skew_s)
        self._challenge_ttl_s = challenge_ttl_s
        self._challenges: OrderedDict[bytes, tuple[str, BleChallenge, float]] = OrderedDict()

    # --- QR codes: a resident's rotating code, or a visitor pass --------------------------

    def decide_qr(self, door: str, text: str | bytes, now: datetime, *,
                  locked_down: bool = False) -> SignedDecision:
        started = time.perf_counter_ns()
        state = self._cache.state
        try:
            claims, signed, signature = decode_token(text)
        except WireError:
            return _done(started, "malformed_token", "qr", "malformed")
        if claims.type == "visitor_pass":
            return self._pass(started, state, door, claims, signed, signature, now, locked_down)
        credential = f"resident:{claims.subject}"
        if claims.type != "resident_qr":
            return _done(started, "malformed_token", "qr", credential)
        if state is None or not verify_signature(state.hub_public_key, signed, signature):
            return _done(started, "bad_signature", "qr", credential)
        if now < claims.not_before - self._skew:
            return _done(started, "token_not_yet_valid", "qr", credential)
        expires = claims.expires + self._skew
        if now >= expires:
            return _done(started, "token_expired", "qr", credential)
        token_id = hashlib.sha256(signed).digest()[:16]
        if self._ledger.was_used(door, token_id, now.timestamp()):
            return _done(started, "replayed", "qr", credential, claims.subject)
        decision = self._cards.decide_card(door, f"qr:{claims.subject}", now,
                                           locked_down=locked_down)
        reason = "not_permitted" if decision.reason == "unknown_card" else decision.reason
        if reason == "granted" and not self._ledger.use_token(
            door, token_id, expires.timestamp(), now.timestamp()
        ):
            reason = "replayed"  # presented twice at once: only the first opens
        return _done(started, reason, "qr", credential, claims.subject)

    def _pass(self, started: int, state: CachedSnapshot | None, door: str, claims: TokenClaims,
              signed: bytes, signature: bytes, now: datetime, locked_down: bool) -> SignedDecision:
        pass_id = claims.subject
        credential = f"pass:{pass_id}"

        def done(reason: AccessReason, uses: int | None = None) -> SignedDecision:
            return _done(started, reason, "visitor_pass", credential, None, pass_id, uses)

        if state is None or not verify_signature(state.hub_public_key, signed, signature):
            return done("bad_signature")
        if now < claims.not_before - self._skew:
            return done("not_yet_valid")
        if now >= claims.expires:
            return done("pass_expired")
        decision = self._cards.decide_card(door, credential, now, locked_down=locked_down)
        if not decision.granted:
            return done(_PASS_REASONS.get(decision.reason, decision.reason))
        limit = state.pass_limits.get(pass_id)
        if limit is None:
            return done("unknown_pass")
        if max(self._ledger.pass_uses(pass_id), limit.uses) >= limit.max_uses:
            return done("pass_used_up")
        return done("granted", self._ledger.count_pass_use(pass_id, limit.uses))

    # --- Bluetooth: the reader's challenge, the phone's signed answer ---------------------

    def ble_challenge(self, door: str, now: datetime) -> BleChallenge:
        """A fresh challenge for a phone at `door`; it can be answered once, within the TTL."""
        challenge = BleChallenge(nonce=os.urandom(16), door=door, issued_at=now)
        self._challenges[challenge.nonce] = (door, challenge, time.monotonic())
        while len(self._challenges) > _MAX_CHALLENGES:
            self._challenges.popitem(last=False)
        return challenge

    def decide_ble(self, door: str, answer: BleAnswer, now: datetime, *,
                   locked_down: bool = False) -> SignedDecision:
        started = time.perf_counter_ns()
        credential = f"phone-key:{answer.key_id}"
        pending = self._challenges.pop(answer.nonce, None)
        if pending is None:
            answered = self._ledger.was_used(door, answer.nonce, now.timestamp())
            return _done(started, "replayed" if answered else "stale_challenge", "ble", credential)
        asked_at, challenge, issued = pending
        if asked_at != door or time.monotonic() - issued > self._challenge_ttl_s:
            return _done(started, "stale_challenge", "ble", credential)
        # Spent now, whatever follows: an answer is never accepted twice.
        self._ledger.use_token(door, answer.nonce, now.timestamp() + 60, now.timestamp())
        state = self._cache.state
        key = None if state is None else state.phone_keys.get(answer.key_id)
        if key is None:
            return _done(started, "unknown_key", "ble", credential)
        if not verify_signature(key.public_key, challenge.signing_bytes(), answer.signature):
            return _done(started, "bad_signature", "ble", credential, key.resident_id)
        decision = self._cards.decide_card(door, f"ble:{answer.key_id}", now,
                                           locked_down=locked_down)
        reason = "unknown_key" if decision.reason == "unknown_card" else decision.reason
        return _done(started, reason, "ble", credential, key.resident_id)


def _done(started: int, reason: AccessReason, kind: CredentialType, credential: str,
          resident_id: int | None = None, pass_id: int | None = None,
          pass_uses: int | None = None) -> SignedDecision:
    result: Literal["granted", "denied"] = "granted" if reason == "granted" else "denied"
    return SignedDecision(result, reason, kind, credential, resident_id,
                          (time.perf_counter_ns() - started) // 1000, pass_id, pass_uses)


__all__ = ["CredentialLedger", "SignedCredentialDecider", "SignedDecision", "verify_signature"]
