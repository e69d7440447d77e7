"""Signed credentials decided at the edge: QR tokens, visitor passes and Bluetooth answers,
verified offline with the keys held in the permission snapshot."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.access.cache import PermissionCache
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from hub.credentials.keys import public_key_b64
from hub.credentials.signing import TokenSigner
from simulators.phone import PhoneSimulator
from tests.edge.access.snapshots import CREDENTIALS, GROUPS, snapshot
from wire import (
    AccessGroupRule,
    CardCredential,
    PermissionSnapshot,
    PhoneKeyGrant,
    VisitorPassLimit,
)
from wire.tokens import TOKEN_TEXT_LEN, BleAnswer, decode_token, encode_token

HUB_KEY = Ed25519PrivateKey.generate()
SIGNER = TokenSigner(HUB_KEY)
NOW = datetime(2025, 3, 3, 2, 0, 5, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
PHONE = PhoneSimulator()
THIEF = PhoneSimulator()  # a key nobody registered


def signed_snapshot(version: int = 1, *, revoked_pass: bool = False, uses: int = 0) -> PermissionSnapshot:
    return snapshot(
        version,
        hub_public_key=SIGNER.public_key,
        groups=[AccessGroupRule(id=-7, doors=["lobby"]), *GROUPS],
        credentials=[
            *CREDENTIALS,
            CardCredential(card="qr:101", resident_id=101, groups=[1, 2]),
            CardCredential(card="qr:206", resident_id=206, groups=[2]),  # gym, office hours
            CardCredential(card="ble:5", resident_id=101, groups=[1]),
            CardCredential(card="ble:6", resident_id=101, status="revoked", groups=[1]),
            CardCredential(card="pass:7", status="revoked" if revoked_pass else "active",
                           valid_from=NOW - timedelta(hours=1),
                           valid_until=NOW + timedelta(hours=2), groups=[-7]),
        ],
        phone_keys=[PhoneKeyGrant(id=5, resident_id=101, public_key=PHONE.public_key),
                    PhoneKeyGrant(id=6, resident_id=101, public_key=THIEF.public_key)],
        visitor_passes=[VisitorPassLimit(id=7, max_uses=2, uses=uses)],
    )


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[PermissionCache]:
    with PermissionCache(tmp_path / "perm.db") as c:
        c.apply(signed_snapshot())
        yield c


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[CredentialLedger]:
    with CredentialLedger(tmp_path / "credentials.db") as led:
        yield led


@pytest.fixture
def decider(cache: PermissionCache, ledger: CredentialLedger) -> SignedCredentialDecider:
    return SignedCredentialDecider(cache, ledger)


def qr(resident: int = 101, now: datetime = NOW) -> str:
    return SIGNER.resident_qr(resident, now).text


def pass_token(valid_from: datetime = NOW - timedelta(hours=1),
               valid_until: datetime = NOW + timedelta(hours=2)) -> str:
    return SIGNER.visitor_pass(7, valid_from, valid_until, NOW).text


# --- the token itself ---------------------------------------------------------------------

def test_token_is_compact_and_round_trips() -> None:
    issued = SIGNER.resident_qr(101, NOW)
    assert len(issued.text) == TOKEN_TEXT_LEN and issued.text.isascii()
    claims, _, signature = decode_token(issued.text)
    assert claims == issued.claims and len(signature) == 64
    assert claims.expires - claims.not_before == timedelta(seconds=40)  # 30 s + 10 s grace
    assert claims.not_before <= NOW < claims.not_before + timedelta(seconds=30)


def test_qr_rotates_every_30_seconds() -> None:
    first = SIGNER.resident_qr(101, NOW).claims
    later = SIGNER.resident_qr(101, NOW + timedelta(seconds=30)).claims
    assert later.not_before - first.not_before == timedelta(seconds=30)


@pytest.mark.parametrize("text", ["", "x" * TOKEN_TEXT_LEN, "短" * 10, "!" * TOKEN_TEXT_LEN])
def test_garbage_is_malformed(decider: SignedCredentialDecider, text: str) -> None:
    assert decider.decide_qr("lobby", text, NOW).reason == "malformed_token"


# --- resident QR --------------------------------------------------------------------------

def test_good_qr_is_granted_once_per_door(decider: SignedCredentialDecider) -> None:
    token = qr()
    first = decider.decide_qr("lobby", token, NOW)
    assert (first.result, first.reason, first.resident_id) == ("granted", "granted", 101)
    assert decider.decide_qr("lobby", token, NOW + timedelta(seconds=2)).reason == "replayed"
    assert decider.decide_qr("gym", token, NOW).reason == "granted"  # another door
    assert decider.decide_qr("lobby", qr(), NOW).reason == "granted"  # a fresh code


def test_replay_refused_after_edge_restart(cache: PermissionCache, tmp_path: Path) -> None:
    token = qr()
    with CredentialLedger(tmp_path / "l.db") as led:
        assert SignedCredentialDecider(cache, led).decide_qr("lobby", token, NOW).granted
    with CredentialLedger(tmp_path / "l.db") as led:
        assert SignedCredentialDecider(cache, led).decide_qr("lobby", token, NOW).reason == "replayed"


def test_forged_and_altered_tokens_are_refused(decider: SignedCredentialDecider) -> None:
    claims, _, signature = decode_token(qr())
    forged = encode_token(claims, Ed25519PrivateKey.generate().sign(claims.pack()))
    assert decider.decide_qr("lobby", forged, NOW).reason == "bad_signature"
    # the same signature over other claims: resident 206 wearing 101's signature
    altered = encode_token(claims.model_copy(update={"subject": 206}), signature)
    assert decider.decide_qr("lobby", altered, NOW).reason == "bad_signature"
    flipped = bytearray(base64.urlsafe_b64decode(qr() + "=="))
    flipped[-1] ^= 1
    text = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
    assert decider.decide_qr("lobby", text, NOW).reason == "bad_signature"


def test_token_of_another_hub_is_refused(decider: SignedCredentialDecider) -> None:
    other = TokenSigner(Ed25519PrivateKey.generate())
    assert decider.decide_qr("lobby", other.resident_qr(101, NOW).text, NOW).reason == "bad_signature"


def test_validity_window_with_clock_skew(decider: SignedCredentialDecider) -> None:
    token = SIGNER.resident_qr(101, NOW)
    end = token.claims.expires
    assert decider.decide_qr("lobby", token.text, end + timedelta(seconds=4)).granted  # skew
    assert decider.decide_qr("gym", token.text, end + timedelta(seconds=5)).reason == "token_expired"
    early = SIGNER.resident_qr(101, NOW + timedelta(minutes=5)).text
    assert decider.decide_qr("lobby", early, NOW).reason == "token_not_yet_valid"


def test_qr_follows_the_residents_groups_and_schedules(decider: SignedCredentialDecider) -> None:
    assert decider.decide_qr("storage", qr(), NOW).reason == "not_permitted"
    assert decider.decide_qr("roof", qr(), NOW).reason == "door_locked_down"
    assert decider.decide_qr("lobby", qr(206), NOW).reason == "not_permitted"
    sunday = NOW + timedelta(days=6)
    assert decider.decide_qr("gym", qr(206, sunday), sunday).reason == "outside_schedule"
    assert decider.decide_qr("lobby", qr(999), NOW).reason == "not_permitted"


def test_no_hub_key_held_refuses(tmp_path: Path, ledger: CredentialLedger) -> None:
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(snapshot())  # a snapshot from before the hub had a key
        decider = SignedCredentialDecider(cache, ledger)
        assert decider.decide_qr("lobby", qr(), NOW).reason == "bad_signature"


# --- visitor passes -----------------------------------------------------------------------

def test_pass_counts_uses_and_is_used_up(decider: SignedCredentialDecider) -> None:
    token = pass_token()
    first = decider.decide_qr("lobby", token, NOW)
    assert (first.reason, first.credential_type, first.pass_id, first.pass_uses) == (
        "granted", "visitor_pass", 7, 1)
    assert decider.decide_qr("lobby", token, NOW).pass_uses == 2  # the same code again is fine
    assert decider.decide_qr("lobby", token, NOW).reason == "pass_used_up"


def test_pass_uses_known_to_the_hub_count(tmp_path: Path, ledger: CredentialLedger) -> None:
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(signed_snapshot(uses=2))  # both uses made at another edge
        decider = SignedCredentialDecider(cache, ledger)
        assert decider.decide_qr("lobby", pass_token(), NOW).reason == "pass_used_up"


def test_pass_refusals(decider: SignedCredentialDecider, cache: PermissionCache) -> None:
    assert decider.decide_qr("gym", pass_token(), NOW).reason == "not_permitted"
    assert decider.decide_qr("lobby", pass_token(), NOW + timedelta(hours=3)).reason == "pass_expired"
    assert decider.decide_qr("lobby", pass_token(), NOW - timedelta(hours=2)).reason == "not_yet_valid"
    unknown = SIGNER.visitor_pass(8, NOW, NOW + timedelta(hours=1), NOW).text
    assert decider.decide_qr("lobby", unknown, NOW).reason == "unknown_pass"
    cache.apply(signed_snapshot(2, revoked_pass=True))
    assert decider.decide_qr("lobby", pass_token(), NOW).reason == "pass_revoked"


# --- Bluetooth ----------------------------------------------------------------------------

def test_ble_good_answer_granted_and_not_twice(decider: SignedCredentialDecider) -> None:
    challenge = decider.ble_challenge("lobby", NOW)
    answer = PHONE.answer(challenge, key_id=5)
    decision = decider.decide_ble("lobby", answer, NOW)
    assert (decision.reason, decision.resident_id, decision.credential_type) == ("granted", 101, "ble")
    assert decider.decide_ble("lobby", answer, NOW).reason == "replayed"


def test_ble_wrong_key_unknown_key_revoked_key(decider: SignedCredentialDecider) -> None:
    wrong = THIEF.answer(decider.ble_challenge("lobby", NOW), key_id=5)  # claims PHONE's key
    assert decider.decide_ble("lobby", wrong, NOW).reason == "bad_signature"
    unknown = PHONE.answer(decider.ble_challenge("lobby", NOW), key_id=99)
    assert decider.decide_ble("lobby", unknown, NOW).reason == "unknown_key"
    revoked = THIEF.answer(decider.ble_challenge("lobby", NOW), key_id=6)
    assert decider.decide_ble("lobby", revoked, NOW).reason == "revoked"


def test_ble_stale_or_foreign_challenge(cache: PermissionCache, ledger: CredentialLedger) -> None:
    decider = SignedCredentialDecider(cache, ledger, challenge_ttl_s=0.0)
    stale = PHONE.answer(decider.ble_challenge("lobby", NOW), key_id=5)
    assert decider.decide_ble("lobby", stale, NOW).reason == "stale_challenge"
    decider = SignedCredentialDecider(cache, ledger)
    at_gym = PHONE.answer(decider.ble_challenge("gym", NOW), key_id=5)
    assert decider.decide_ble("lobby", at_gym, NOW).reason == "stale_challenge"
    never_asked = BleAnswer(key_id=5, nonce=b"\0" * 16, signature=b"\0" * 64)
    assert decider.decide_ble("lobby", never_asked, NOW).reason == "stale_challenge"


def test_public_key_encoding_matches_the_wire() -> None:
    assert len(public_key_b64(HUB_KEY)) == 44 == len(SIGNER.public_key)
