"""Signed credentials benchmark: the hub's signing and QR rendering, the edge's verification.

Prints tokens signed per second, QR PNG / SVG render times, and the latency of the edge's
decisions (p50 / p99 / max in microseconds) for a resident QR code, a visitor pass and a
Bluetooth answer, against a snapshot with N residents with the app, N/2 phone keys and N/10
passes. Every decision verifies an Ed25519 signature and writes the SQLite ledger.

    .venv/bin/python bench/signed_credentials.py [--residents N] [--decisions N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root
from edge.access.cache import PermissionCache
from edge.access.tokens import CredentialLedger, SignedCredentialDecider, SignedDecision
from harness.report import report
from harness.stats import summarize
from hub.credentials.qr import render
from hub.credentials.signing import TokenSigner
from simulators.phone import PhoneSimulator
from wire import (
    AccessGroupRule,
    CardCredential,
    DoorInfo,
    PermissionSnapshot,
    PhoneKeyGrant,
    SnapshotContent,
    VisitorPassLimit,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def build(signer: TokenSigner, phone: PhoneSimulator, residents: int) -> PermissionSnapshot:
    creds = [CardCredential(card=f"qr:{r}", resident_id=r, groups=[1]) for r in range(1, residents + 1)]
    keys = []
    for k in range(1, residents // 2 + 1):
        creds.append(CardCredential(card=f"ble:{k}", resident_id=k, groups=[1]))
        keys.append(PhoneKeyGrant(id=k, resident_id=k, public_key=phone.public_key))
    passes = residents // 10
    groups = [AccessGroupRule(id=1, doors=["lobby"])]
    limits = []
    for p in range(1, passes + 1):
        groups.append(AccessGroupRule(id=-p, doors=["lobby"]))
        creds.append(CardCredential(card=f"pass:{p}", valid_from=NOW - timedelta(hours=1),
                                    valid_until=NOW + timedelta(hours=1), groups=[-p]))
        limits.append(VisitorPassLimit(id=p, max_uses=10**6))
    content = SnapshotContent(
        site="bench", edge="edge", doors=[DoorInfo(id="lobby", name="Lobby")], groups=groups,
        credentials=creds, hub_public_key=signer.public_key, phone_keys=keys,
        visitor_passes=limits,
    )
    return PermissionSnapshot.build(content, version=1, issued_at=NOW)


def timed(label: str, n: int, step: Callable[[int], SignedDecision]) -> None:
    samples = []
    for i in range(n):
        started = time.perf_counter_ns()
        decision = step(i)
        samples.append((time.perf_counter_ns() - started) / 1e9)
        assert decision.granted, (label, decision)
    report(label, summarize(samples, "µs", 1e6).text(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--decisions", type=int, default=2_000)
    args = parser.parse_args()
    signer = TokenSigner(Ed25519PrivateKey.generate())
    phone = PhoneSimulator()

    started = time.perf_counter()
    tokens = [signer.resident_qr(1 + i % args.residents, NOW).text for i in range(args.decisions)]
    elapsed = time.perf_counter() - started
    print(f"hub: {args.decisions / elapsed:,.0f} QR tokens signed/s")
    for fmt in ("png", "svg"):
        started = time.perf_counter()
        for text in tokens[:100]:
            render(text, fmt)  # type: ignore[arg-type]
        print(f"hub: QR {fmt.upper()} rendered in {(time.perf_counter() - started) * 10:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        cache = PermissionCache(Path(tmp) / "perm.db")
        started = time.perf_counter()
        cache.apply(build(signer, phone, args.residents))
        print(f"edge: snapshot with {args.residents:,} QR grants, {args.residents // 2:,} phone "
              f"keys, {args.residents // 10:,} passes applied in {time.perf_counter() - started:.2f}s")
        ledger = CredentialLedger(Path(tmp) / "credentials.db")
        decider = SignedCredentialDecider(cache, ledger)
        now = NOW + timedelta(seconds=1)
        timed("edge: resident QR", args.decisions, lambda i: decider.decide_qr("lobby", tokens[i], now))
        passes = [signer.visitor_pass(1 + i % (args.residents // 10), NOW - timedelta(hours=1),
                                      NOW + timedelta(hours=1), NOW).text
                  for i in range(args.decisions)]
        timed("edge: visitor pass", args.decisions, lambda i: decider.decide_qr("lobby", passes[i], now))

        def ble(i: int) -> SignedDecision:
            challenge = decider.ble_challenge("lobby", now)
            return decider.decide_ble("lobby", phone.answer(challenge, key_id=1 + i % 100), now)

        timed("edge: BLE (incl. phone sign)", args.decisions, ble)
        ledger.close()
        cache.close()


if __name__ == "__main__":
    main()
