"""The edge's downlink handlers alone (edge.commands, edge.permissions) behind the signed
downlink: what verifies is acted on; a forgery, a replay, a stale command or an older version
changes nothing, is answered as it should be and is reported. Real SQLite stores, an injected
clock, the test hub key (harness.downlink)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.access.cache import PermissionCache
from edge.commands import CommandHandler
from edge.outbox import Outbox
from edge.permissions import PermissionSync
from edge.report import Reporter
from edge.trust import DownlinkGate, DownlinkVerifier, TrustStore
from harness.downlink import HUB_KEYS, SIGNER, signed
from hub.credentials.downlink import DownlinkSigner
from wire import (
    AccessGroupRule,
    CardCredential,
    CommandAck,
    DoorInfo,
    EdgeCommand,
    PermissionSnapshot,
    SnapshotContent,
    parse_event,
    topics,
)

SITE, EDGE = "garden-court", "building-3"
CMD, PERM = topics.cmd(SITE, EDGE), topics.perm(SITE, EDGE)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NEXT = DownlinkSigner(Ed25519PrivateKey.generate())


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.outbox = Outbox(tmp_path / "outbox.db", site=SITE, edge=EDGE)
        self.cache = PermissionCache(tmp_path / "perm.db")
        self.trust = TrustStore(tmp_path / "trust.db")
        self.report = Reporter(self.outbox, edge=EDGE, wake=lambda: None)
        self.gate = DownlinkGate(DownlinkVerifier(HUB_KEYS, site=SITE, edge=EDGE),
                                 self.report.downlink_refused, store=self.trust)
        self.now = NOW
        self.resyncs = 0
        self.commands = CommandHandler(
            None, None, site=SITE, edge=EDGE, report=self.report,  # type: ignore[arg-type]
            resync=self._resync, clock=lambda: self.now, gate=self.gate, trust=self.trust)
        self.permissions = PermissionSync(self.cache, site=SITE, edge=EDGE, report=self.report,
                                          published=lambda: None, gate=self.gate)

    def _resync(self) -> None:
        self.resyncs += 1

    def sent(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for m in self.outbox.pending(limit=1000):
            if m.topic == topics.cmd_ack(SITE, EDGE):
                out.append(("ack", CommandAck.model_validate_json(m.payload)))
            else:
                out.append(("event", parse_event(m.payload).data))
        return out

    def refusals(self) -> list[tuple[str, str]]:
        return [(d.reason, d.topic) for kind, d in self.sent()
                if kind == "event" and d.event == "downlink_refused"]

    def acks(self) -> list[CommandAck]:
        return [a for kind, a in self.sent() if kind == "ack"]

    def close(self) -> None:
        for store in (self.outbox, self.cache, self.trust):
            store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def command(name: str = "resync", *, issued: datetime = NOW, edge: str = EDGE,
            **extra: Any) -> bytes:
    return EdgeCommand(id=f"c-{name}-{issued.timestamp()}-{edge}", site=SITE, edge=edge,
                       ts=issued, expires=issued + timedelta(seconds=30),
                       command=name, **extra).model_dump_json().encode()  # type: ignore[arg-type]


def snapshot(version: int, cards: tuple[str, ...] = ("1001",), keys: list[str] | None = None
             ) -> bytes:
    content = SnapshotContent(
        site=SITE, edge=EDGE, doors=[DoorInfo(id="lobby", name="Lobby")],
        groups=[AccessGroupRule(id=1, doors=["lobby"])],
        credentials=[CardCredential(card=c, groups=[1]) for c in cards],
        downlink_keys=keys or [])
    return PermissionSnapshot.build(content, version, NOW).model_dump_json().encode()


def test_a_signed_command_is_carried_out_once_and_a_replay_is_refused_unanswered(rig: Rig) -> None:
    payload = signed(CMD, command())
    rig.commands.handle(CMD, payload)
    assert rig.resyncs == 1
    assert [a.result for a in rig.acks()] == ["ok"]
    rig.now += timedelta(seconds=5)
    rig.commands.handle(CMD, payload)
    assert rig.resyncs == 1  # not again
    assert len(rig.acks()) == 1  # and no second answer to overwrite the first
    assert rig.refusals() == [("replayed", CMD)]


def test_an_unsigned_or_foreign_command_changes_nothing_and_gets_no_answer(rig: Rig) -> None:
    rig.commands.handle(CMD, command())
    rig.commands.handle(CMD, NEXT.sign(CMD, command()))
    assert rig.resyncs == 0 and rig.acks() == []
    assert rig.refusals() == [("unsigned", CMD), ("unknown_key", CMD)]


def test_a_command_naming_another_edge_is_refused_even_when_signed_for_this_topic(
        rig: Rig) -> None:
    rig.commands.handle(CMD, signed(CMD, command(edge="building-4")))
    assert rig.resyncs == 0 and rig.acks() == []
    assert rig.refusals() == [("wrong_target", CMD)]


def test_a_stale_command_is_refused_and_answered_rejected(rig: Rig) -> None:
    rig.now = NOW + timedelta(minutes=2)
    rig.commands.handle(CMD, signed(CMD, command()))
    assert rig.resyncs == 0
    [ack] = rig.acks()
    assert ack.result == "rejected" and "stale" in ack.reason
    assert rig.refusals() == [("stale", CMD)]


def test_snapshot_versions_only_grow_unless_the_hub_signed_a_reset(rig: Rig) -> None:
    async def run() -> None:
        await rig.permissions.snapshot(PERM, signed(PERM, snapshot(5)))
        assert rig.cache.version == 5
        await rig.permissions.snapshot(PERM, snapshot(6, ("1001", "6666")))  # unsigned
        await rig.permissions.snapshot(PERM, signed(PERM, snapshot(4)))  # older
        assert rig.cache.version == 5 and rig.cache.lookup_card("6666") is None
        assert rig.refusals() == [("unsigned", PERM), ("version_regress", PERM)]
        # the hub's signed reset names v3: that one is taken, once
        v3 = PermissionSnapshot.model_validate_json(snapshot(3, ("3003",)))
        rig.commands.handle(CMD, signed(CMD, command(
            "reset_permissions", perm_version=3, perm_hash=v3.hash)))
        assert [a.result for a in rig.acks()] == ["ok"]
        await rig.permissions.snapshot(PERM, signed(PERM, snapshot(3, ("3003",))))
        assert rig.cache.version == 3 and rig.cache.lookup_card("3003") is not None
        assert rig.trust.reset_allowed() is None
        await rig.permissions.snapshot(PERM, signed(PERM, snapshot(2)))
        assert rig.cache.version == 3

    asyncio.run(run())


def test_a_snapshot_delivers_the_next_hub_key_which_then_verifies(rig: Rig) -> None:
    async def run() -> None:
        rig.commands.handle(CMD, NEXT.sign(CMD, command()))
        assert rig.resyncs == 0
        await rig.permissions.snapshot(PERM, signed(PERM, snapshot(1, keys=[
            *SIGNER.public_keys, NEXT.public_key])))
        rig.now += timedelta(seconds=1)
        rig.commands.handle(CMD, NEXT.sign(CMD, command(issued=rig.now)))
        assert rig.resyncs == 1
        assert rig.trust.delivered_keys() == [*SIGNER.public_keys, NEXT.public_key]

    asyncio.run(run())
