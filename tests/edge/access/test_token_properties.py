"""Hostile QR codes, visitor passes and BLE answers (hypothesis): whatever is shown to the
reader is refused with a reason, never crashes the decision, and nothing but the hub's own
signature over the exact claims opens a door."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edge.access.cache import PermissionCache
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from tests.edge.access.test_tokens import NOW, PHONE, pass_token, qr, signed_snapshot
from wire import WireError
from wire.tokens import TOKEN_TEXT_LEN, BleAnswer, decode_token

PROPS = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
REFUSALS = {"malformed_token", "bad_signature", "replayed", "expired", "not_yet_valid",
            "unknown_card", "revoked", "not_permitted", "pass_used_up", "outside_schedule",
            "unknown_door", "stale_challenge", "unknown_key"}


@pytest.fixture(scope="module")
def decider() -> Iterator[SignedCredentialDecider]:
    with tempfile.TemporaryDirectory() as tmp, PermissionCache(Path(tmp) / "p.db") as cache, \
            CredentialLedger(Path(tmp) / "l.db") as ledger:
        cache.apply(signed_snapshot())
        yield SignedCredentialDecider(cache, ledger)


@PROPS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200),
                 st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                         min_size=TOKEN_TEXT_LEN, max_size=TOKEN_TEXT_LEN)))
def test_any_text_decodes_or_fails_with_a_reason(text: str | bytes) -> None:
    try:
        claims, signed, signature = decode_token(text)
    except WireError as exc:
        assert str(exc)
    else:
        assert len(signature) == 64 and signed == claims.pack()


@PROPS
@given(data=st.data())
def test_a_mutated_token_never_opens_the_door(decider: SignedCredentialDecider,
                                              data: st.DataObject) -> None:
    token = data.draw(st.sampled_from([qr(), pass_token()]))
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    assume(bytes(raw) != base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    text = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    decision = decider.decide_qr("lobby", text, NOW)
    assert decision.result == "denied" and decision.reason in REFUSALS


@PROPS
@given(key_id=st.sampled_from([5, 6, 7, 2**31]), nonce=st.binary(min_size=16, max_size=16),
       answers_the_challenge=st.booleans(), signature=st.binary(min_size=64, max_size=64),
       late=st.integers(0, 120))
def test_a_ble_answer_not_signed_by_the_phone_is_refused(
        decider: SignedCredentialDecider, key_id: int, nonce: bytes,
        answers_the_challenge: bool, signature: bytes, late: int) -> None:
    challenge = decider.ble_challenge("lobby", NOW)
    answer = BleAnswer(key_id=key_id, nonce=challenge.nonce if answers_the_challenge else nonce,
                       signature=signature)
    decision = decider.decide_ble("lobby", answer, NOW + timedelta(seconds=late))
    assert decision.result == "denied" and decision.reason in REFUSALS
    # while the registered phone's own answer to a fresh challenge opens the door
    good = decider.decide_ble("lobby", PHONE.answer(decider.ble_challenge("lobby", NOW), 5), NOW)
    assert (good.result, good.reason) == ("granted", "granted")
