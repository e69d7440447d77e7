"""Signed downlink, both ends as units: the hub's DownlinkSigner, the edge's DownlinkVerifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.trust import (
    REPORTS_PER_WINDOW,
    DownlinkGate,
    DownlinkRefused,
    DownlinkVerifier,
    TrustStore,
)
from hub.credentials.downlink import DownlinkSigner
from wire import topics
from wire.signed import seal, unseal

HUB = Ed25519PrivateKey.generate()
NEXT = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
TOPIC = topics.cmd("s1", "e1")
BODY = b'{"id":"c1","site":"s1","edge":"e1","command":"unlock"}'


def verifier(*keys: Ed25519PrivateKey) -> DownlinkVerifier:
    return DownlinkVerifier([DownlinkSigner(k).public_key for k in keys or (HUB,)],
                            site="s1", edge="e1")


def refusal(v: DownlinkVerifier, topic: str, payload: bytes) -> str:
    with pytest.raises(DownlinkRefused) as caught:
        v.verify(topic, payload)
    return caught.value.reason


def test_a_good_signature_gives_the_body() -> None:
    assert verifier().verify(TOPIC, DownlinkSigner(HUB).sign(TOPIC, BODY)) == BODY


def test_unsigned_is_refused() -> None:
    assert refusal(verifier(), TOPIC, BODY) == "unsigned"


def test_a_tampered_body_is_refused() -> None:
    payload = DownlinkSigner(HUB).sign(TOPIC, BODY)
    assert refusal(verifier(), TOPIC, payload.replace(b"unlock", b"lockdn")) == "bad_signature"


def test_a_signature_from_another_message_is_refused() -> None:
    signer = DownlinkSigner(HUB)
    kid, sig, _ = unseal(signer.sign(TOPIC, b'{"id":"other"}'))
    assert refusal(verifier(), TOPIC, seal(BODY, kid, sig)) == "bad_signature"


def test_a_message_for_another_edge_is_refused_as_wrong_target() -> None:
    other_topic = topics.cmd("s1", "e2")
    body = BODY.replace(b'"edge":"e1"', b'"edge":"e2"')
    payload = DownlinkSigner(HUB).sign(other_topic, body)
    # replayed onto this edge's topic: the topic is inside what was signed
    assert refusal(verifier(), TOPIC, payload) == "wrong_target"
    # ... and a topic of another edge never reaches a handler
    assert refusal(verifier(), other_topic, payload) == "wrong_target"


def test_a_forgery_naming_another_edge_is_a_bad_signature_not_wrong_target() -> None:
    body = BODY.replace(b'"edge":"e1"', b'"edge":"e2"')
    kid, sig, _ = unseal(DownlinkSigner(HUB).sign(TOPIC, BODY))
    assert refusal(verifier(), TOPIC, seal(body, kid, sig)) == "bad_signature"


def test_an_unknown_key_is_refused() -> None:
    assert refusal(verifier(), TOPIC, DownlinkSigner(STRANGER).sign(TOPIC, BODY)) == "unknown_key"


def test_a_key_claiming_an_accepted_kid_is_a_bad_signature() -> None:
    kid = DownlinkSigner(HUB).kid
    _, sig, _ = unseal(DownlinkSigner(STRANGER).sign(TOPIC, BODY))
    assert refusal(verifier(), TOPIC, seal(BODY, kid, sig)) == "bad_signature"


@pytest.mark.parametrize("payload", [
    b"LSIG1 garbage\n{}", b"LSIG1 0123456789abcdef short\n{}", b"LSIG1 no end of line",
])
def test_a_malformed_header_is_refused(payload: bytes) -> None:
    assert refusal(verifier(), TOPIC, payload) == "malformed"


def test_during_a_rollover_both_keys_verify_and_the_signer_offers_both() -> None:
    signer = DownlinkSigner(HUB, next_key=NEXT)
    assert signer.public_keys == [DownlinkSigner(HUB).public_key, DownlinkSigner(NEXT).public_key]
    v = verifier(HUB)
    assert refusal(v, TOPIC, DownlinkSigner(NEXT).sign(TOPIC, BODY)) == "unknown_key"
    v.set_delivered(signer.public_keys)
    assert v.verify(TOPIC, DownlinkSigner(NEXT).sign(TOPIC, BODY)) == BODY
    assert v.verify(TOPIC, signer.sign(TOPIC, BODY)) == BODY


def test_a_delivered_list_cannot_drop_the_configured_anchor() -> None:
    v = verifier(HUB)
    v.set_delivered([DownlinkSigner(NEXT).public_key])
    assert v.verify(TOPIC, DownlinkSigner(HUB).sign(TOPIC, BODY)) == BODY
    assert v.accepted == [DownlinkSigner(HUB).public_key, DownlinkSigner(NEXT).public_key]


def test_a_bad_configured_key_names_itself() -> None:
    with pytest.raises(ValueError, match="not a base64 raw Ed25519 public key"):
        DownlinkVerifier(["bm90IGEga2V5"])


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_command_id_is_refused_the_second_time_even_after_a_restart(tmp_path: Path) -> None:
    expires = NOW + timedelta(seconds=30)
    with TrustStore(tmp_path / "trust.db") as store:
        store.check_command("c1", NOW, expires, NOW)
        with pytest.raises(DownlinkRefused, match="replayed"):
            store.check_command("c1", NOW, expires, NOW + timedelta(seconds=1))
    with TrustStore(tmp_path / "trust.db") as store:
        with pytest.raises(DownlinkRefused, match="replayed"):
            store.check_command("c1", NOW, expires, NOW + timedelta(seconds=2))
        store.check_command("c2", NOW, expires, NOW + timedelta(seconds=2))


def test_a_command_past_its_validity_is_stale(tmp_path: Path) -> None:
    with TrustStore(tmp_path / "trust.db") as store:
        with pytest.raises(DownlinkRefused) as caught:
            store.check_command("c1", NOW, NOW + timedelta(seconds=30), NOW + timedelta(minutes=5))
        assert caught.value.reason == "stale"
        with pytest.raises(DownlinkRefused) as caught:
            store.check_command("c2", NOW + timedelta(minutes=5), NOW + timedelta(minutes=6), NOW)
        assert caught.value.reason == "stale"
        with pytest.raises(DownlinkRefused) as caught:
            store.check_command("c3", NOW, NOW + timedelta(days=2), NOW)
        assert caught.value.reason == "invalid"


def test_expired_ids_are_forgotten(tmp_path: Path) -> None:
    with TrustStore(tmp_path / "trust.db") as store:
        store.check_command("c1", NOW, NOW + timedelta(seconds=30), NOW)
        store.check_command("c2", NOW + timedelta(hours=1), NOW + timedelta(hours=1, seconds=30),
                            NOW + timedelta(hours=1))
        rows = store._db.execute("SELECT id FROM seen_commands").fetchall()
        assert rows == [("c2",)]


def test_delivered_keys_survive_a_restart(tmp_path: Path) -> None:
    keys = [DownlinkSigner(HUB).public_key, DownlinkSigner(NEXT).public_key]
    with TrustStore(tmp_path / "trust.db") as store:
        assert store.delivered_keys() == []
        store.set_delivered_keys(keys)
    with TrustStore(tmp_path / "trust.db") as store:
        assert store.delivered_keys() == keys


def test_the_gate_counts_and_reports_every_refusal_and_sums_a_flood() -> None:
    reports: list[tuple[str, str, str]] = []
    now = [0.0]
    gate = DownlinkGate(verifier(), lambda *r: reports.append(r), clock=lambda: now[0])
    good = DownlinkSigner(HUB).sign(TOPIC, BODY)
    assert gate.open(TOPIC, good) == BODY
    assert gate.open(TOPIC, BODY) is None
    assert reports == [("unsigned", TOPIC, "unsigned: unsigned message")]
    for _ in range(REPORTS_PER_WINDOW + 25):
        assert gate.open(TOPIC, BODY) is None
    assert gate.verifier.refused["unsigned"] == REPORTS_PER_WINDOW + 26
    assert len(reports) == REPORTS_PER_WINDOW  # the rest held back, not lost:
    gate.flush()
    assert reports[-1][0] == "unsigned" and "26 more refused" in reports[-1][2]
    now[0] += 61
    assert gate.open(TOPIC, DownlinkSigner(STRANGER).sign(TOPIC, BODY)) is None
    assert reports[-1][0] == "unknown_key"


def test_a_reset_allowance_names_one_snapshot_and_survives_a_restart(tmp_path: Path) -> None:
    with TrustStore(tmp_path / "trust.db") as store:
        assert store.reset_allowed() is None
        store.allow_reset(5, "a" * 64)
    with TrustStore(tmp_path / "trust.db") as store:
        assert store.reset_allowed() == (5, "a" * 64)
        store.reset_done()
        assert store.reset_allowed() is None
