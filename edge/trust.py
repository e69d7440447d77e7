"""The edge obeys only the hub: every downlink message is verified before anything acts on it.

`DownlinkVerifier.verify(topic, payload)` returns the body of a message the hub signed for this
very topic with a key this edge accepts, or raises `DownlinkRefused` with a short reason:

    unsigned        no signature at all (wire.signed.MAGIC missing)
    malformed       a signature header that cannot be read
    unknown_key     signed by a key this edge does not accept
    bad_signature   the signature does not verify (forged or tampered body or topic)
    wrong_target    a genuine hub message for another site or edge, replayed here

The handlers add what only the body can tell (`replayed`, `stale`, `version_regress`,
`invalid`). The accepted keys are the edge's own configuration (its trust anchor) plus the
list the hub last delivered in a verified message (a key rollover needs no visit); `SeenCommands`
remembers command ids across restarts for as long as each command is valid.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.errors import EdgeError
from edge.store import SqliteStore
from wire import topics
from wire.errors import WireError
from wire.signed import key_id, signing_bytes, unseal

log = logging.getLogger(__name__)
Resettable = Literal["permission", "config"]  # what a signed reset names (a table each)
# a body names its target near its start (snapshot, delta, command, ready): enough to tell a
# message for another edge from a forgery, without parsing a 100,000-credential snapshot
_TARGET = re.compile(rb'"site":"([A-Za-z0-9][A-Za-z0-9_.-]*)","edge":"([A-Za-z0-9][A-Za-z0-9_.-]*)"')
SKEW_S = 5.0  # clock drift allowed between hub and edge
COMMAND_MAX_VALIDITY_S = 3600.0  # a command valid longer than this is refused as malformed


class DownlinkRefused(EdgeError):
    """A hub → edge message this edge will not act on; `reason` is one short word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _public_key(b64: str) -> tuple[str, Ed25519PublicKey]:
    try:
        raw = base64.b64decode(b64, validate=True)
        return key_id(raw), Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"accepted hub key {b64!r} is not a base64 raw Ed25519 public key") from exc


class DownlinkVerifier:
    """Verifies sealed payloads against the hub keys this edge accepts."""

    def __init__(self, public_keys_b64: Iterable[str], *, site: str | None = None,
                 edge: str | None = None) -> None:
        self._anchors = list(dict.fromkeys(public_keys_b64))
        self._site, self._edge = site, edge
        self._keys: dict[str, Ed25519PublicKey] = {}
        self.delivered: list[str] = []
        self.set_delivered([])
        self.refused: Counter[str] = Counter()  # refusals by reason, since start

    @property
    def accepted(self) -> list[str]:
        """Every key accepted now: the configured anchors, then the ones the hub delivered."""
        return list(dict.fromkeys(self._anchors + self.delivered))

    def set_delivered(self, keys: Iterable[str]) -> None:
        """Accept `keys` besides the configured ones (replacing an earlier delivered list).

        Only call with a list taken from a message that verified: the anchors stay accepted
        whatever it says, so a bad list cannot lock the edge out of its own configuration."""
        delivered = list(dict.fromkeys(keys))
        table = dict(_public_key(k) for k in self._anchors + delivered)
        self._keys, self.delivered = table, delivered

    def verify(self, topic: str, payload: bytes) -> bytes:
        """The body of a message the hub signed for `topic`, or DownlinkRefused."""
        if self._site is not None and self._edge is not None:
            own = topics.prefix(self._site, self._edge) + "/"
            if not topic.startswith(own):
                raise DownlinkRefused("wrong_target", f"topic {topic} is not this edge's")
        try:
            kid, signature, body = unseal(payload)
        except WireError as exc:
            reason = "unsigned" if exc.reason == "unsigned message" else "malformed"
            raise DownlinkRefused(reason, exc.reason) from exc
        key = self._keys.get(kid)
        if key is None:
            raise DownlinkRefused("unknown_key", f"signed by key {kid}, not one this edge accepts")
        try:
            key.verify(signature, signing_bytes(topic, body))
        except InvalidSignature:
            elsewhere = self._signed_for_another(topic, body, key, signature)
            if elsewhere is not None:
                raise DownlinkRefused("wrong_target", f"signed for {elsewhere}") from None
            raise DownlinkRefused("bad_signature", f"key {kid}") from None
        return body

    def _signed_for_another(self, topic: str, body: bytes, key: Ed25519PublicKey,
                            signature: bytes) -> str | None:
        """The site/edge a body names, when the hub signed it for that target and not ours."""
        found = _TARGET.search(body, 0, 4096)
        if found is None:
            return None
        try:
            parts = topics.parse_prefix(topic)
        except WireError:
            return None
        site, edge = found[1].decode(), found[2].decode()
        if (site, edge) == (parts.site, parts.edge):
            return None
        other = topics.prefix(site, edge) + "/" + parts.rest
        try:
            key.verify(signature, signing_bytes(other, body))
        except InvalidSignature:
            return None
        return f"{site}/{edge}"


Report = Callable[[str, str, str], None]  # (reason, topic, detail): becomes an agent event
REPORTS_PER_WINDOW = 10  # per reason; a flood beyond this is counted and reported in sums
REPORT_WINDOW_S = 60.0


class DownlinkGate:
    """Every downlink handler's first step: `open(topic, payload)` gives the verified body or
    None. A refusal is logged, counted (`verifier.refused`) and reported as an agent event
    `downlink_refused`; a flood of forgeries is reported in sums, so it cannot fill the
    outbox, and never silently."""

    def __init__(self, verifier: DownlinkVerifier, report: Report, *,
                 store: TrustStore | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.verifier = verifier
        self.store = store
        self._report = report
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # reason -> window start, reported
        self._held: dict[str, tuple[int, str]] = {}  # reason -> refusals not reported, last topic

    def open(self, topic: str, payload: bytes) -> bytes | None:
        try:
            return self.verifier.verify(topic, payload)
        except DownlinkRefused as refused:
            self.refuse(topic, refused)
            return None

    def for_me(self, topic: str, site: str, edge: str) -> bool:
        """Does a verified body name the edge its topic names? (Else: refused, wrong_target.)"""
        try:
            parts = topics.parse_prefix(topic)
        except WireError:
            return False
        if (parts.site, parts.edge) == (site, edge):
            return True
        self.refuse(topic, DownlinkRefused("wrong_target", f"the body names {site}/{edge}"))
        return False

    def admit_command(self, topic: str, command_id: str, issued: datetime, expires: datetime,
                      now: datetime) -> DownlinkRefused | None:
        """None when a verified command may be carried out now; else the refusal (reported
        already): `stale`, `replayed` or `invalid`. Remembered across restarts (TrustStore)."""
        if self.store is None:
            raise RuntimeError("a DownlinkGate admits commands only with a TrustStore")
        try:
            self.store.check_command(command_id, issued, expires, now)
        except DownlinkRefused as refused:
            self.refuse(topic, refused)
            return refused
        return None

    def admit_snapshot(self, topic: str, version: int, digest: str, held: tuple[int, str | None]
                       ) -> str | None:
        """How to take a verified snapshot (or delta result) of `version`/`digest` while
        holding `held`: "apply", "reset" (older, but the hub's signed reset named exactly this
        one), "same" (held already), or None: refused as `version_regress` (reported)."""
        held_version = held[0]
        allowed = self.store.reset_allowed() if self.store is not None else None
        if allowed == (version, digest) and (version, digest) != held:
            return "reset"
        if version > held_version:
            return "apply"
        if (version, digest) == held:
            return "same"
        self.refuse(topic, DownlinkRefused(
            "version_regress", f"v{version} offered, v{held_version} held: a replay of an older "
            "snapshot, or the hub's versions went back (reset the edge's permissions from the hub)"))
        return None

    def applied(self, reset: bool, keys: Iterable[str] | None = None) -> None:
        """After a snapshot was applied: a reset is used up; `keys` (the hub keys the snapshot
        announced) are accepted from now on, also after a restart."""
        if self.store is None:
            return
        if reset:
            self.store.reset_done()
        if keys is not None:
            keys = list(keys)
            if keys != self.verifier.delivered:
                self.verifier.set_delivered(keys)
                self.store.set_delivered_keys(keys)

    def refuse(self, topic: str, refused: DownlinkRefused) -> None:
        """Count and report a refusal (also those the handlers find in a verified body)."""
        reason = refused.reason
        self.verifier.refused[reason] += 1
        log.warning("downlink refused on %s: %s", topic, refused)
        now = self._clock()
        start, reported = self._windows.get(reason, (now, 0))
        if now - start >= REPORT_WINDOW_S:
            self.flush()
            start, reported = now, 0
        if reported < REPORTS_PER_WINDOW:
            self._windows[reason] = (start, reported + 1)
            self._report(reason, topic, str(refused))
            return
        held, _ = self._held.get(reason, (0, topic))
        self._held[reason] = (held + 1, topic)

    def flush(self) -> None:
        """Report the sums of refusals held back by the rate limit (call now and then)."""
        now = self._clock()
        for reason, (count, topic) in sorted(self._held.items()):
            self._report(reason, topic, f"{reason}: {count} more refused in the last "
                         f"{REPORT_WINDOW_S:.0f} s (total since start "
                         f"{self.verifier.refused[reason]})")
            self._windows[reason] = (now, 1)
        self._held.clear()

    async def run(self, every_s: float = REPORT_WINDOW_S) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.flush()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivered_keys (position INTEGER PRIMARY KEY, key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS permission_reset (
    id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config_reset (
    id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, hash TEXT NOT NULL
);
"""


class TrustStore(SqliteStore):
    """What the edge's trust must remember across restarts: command ids until their validity
    ends, the hub keys the hub last delivered and a pending signed reset."""

    def __init__(self, path: Path | str) -> None:
        try:  # FULL: a command seen before a power cut is still refused after it
            super().__init__(path, durability="FULL", schema=_SCHEMA)
        except sqlite3.Error as exc:
            raise EdgeError(f"trust store {path}: cannot open: {exc}") from exc

    def check_command(self, command_id: str, issued: datetime, expires: datetime,
                      now: datetime) -> None:
        """Remember `command_id` until `expires`, or refuse it: `stale` once its validity is
        over (or not yet begun), `replayed` if this edge has seen it, `invalid` if valid for
        longer than a command may be."""
        if expires - issued > timedelta(seconds=COMMAND_MAX_VALIDITY_S):
            raise DownlinkRefused("invalid", f"command {command_id} is valid for "
                                  f"{(expires - issued).total_seconds():.0f} s")
        if now > expires + timedelta(seconds=SKEW_S):
            raise DownlinkRefused("stale", f"command {command_id} expired at {expires.isoformat()}")
        if issued > now + timedelta(seconds=SKEW_S):
            raise DownlinkRefused("stale", f"command {command_id} issued in the future "
                                  f"({issued.isoformat()})")
        stamp = now.timestamp()
        with self._lock:
            self._db.execute("DELETE FROM seen_commands WHERE expires < ?", (stamp - SKEW_S,))
            cursor = self._db.execute("INSERT OR IGNORE INTO seen_commands VALUES (?, ?)",
                                      (command_id, expires.timestamp()))
        if cursor.rowcount != 1:
            raise DownlinkRefused("replayed", f"command {command_id} was already received")

    def delivered_keys(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT key FROM delivered_keys ORDER BY position").fetchall()
        return [key for (key,) in rows]

    def set_delivered_keys(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM delivered_keys")
            self._db.executemany("INSERT INTO delivered_keys VALUES (?, ?)", enumerate(keys))
            self._db.execute("COMMIT")

    def allow_reset(self, version: int, digest: str, of: Resettable = "permission") -> None:
        """The hub's signed reset: the snapshot (`version`, `digest`) of permissions, or of the
        configuration, may replace the one held even if older. Only that exact one, once."""
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO {of}_reset VALUES (1, ?, ?)",
                             (version, digest))

    def reset_allowed(self, of: Resettable = "permission") -> tuple[int, str] | None:
        with self._lock:
            row = self._db.execute(f"SELECT version, hash FROM {of}_reset").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def reset_done(self, of: Resettable = "permission") -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {of}_reset")


__all__ = ["DownlinkGate", "DownlinkRefused", "DownlinkVerifier", "TrustStore"]
