"""Cross-site credentials: one hub signs for every site with one key, so a token is
confined by what each edge's snapshot grants. A resident's QR code, a visitor pass and a
phone key of one site are refused at another site's door, while that site's own are granted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.access.tokens import CredentialLedger, SignedCredentialDecider
from simulators.phone import PhoneSimulator
from tests.edge.access.snapshots import snapshot
from tests.edge.access.test_tokens import NOW, PHONE, SIGNER, pass_token, qr, signed_snapshot
from wire import AccessGroupRule, CardCredential, PhoneKeyGrant, VisitorPassLimit

NEIGHBOUR = PhoneSimulator()  # a resident of the other site


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[SignedCredentialDecider]:
    """An edge of another site of the same hub (same key): its own resident 301, pass 8 and
    phone key 9, nothing of the first site."""
    with PermissionCache(tmp_path / "perm.db") as cache, \
            CredentialLedger(tmp_path / "credentials.db") as ledger:
        cache.apply(snapshot(
            1, site="moon-bay", edge="m-1", hub_public_key=SIGNER.public_key,
            groups=[AccessGroupRule(id=1, doors=["lobby"]), AccessGroupRule(id=-8, doors=["lobby"])],
            credentials=[CardCredential(card="qr:301", resident_id=301, groups=[1]),
                         CardCredential(card="ble:9", resident_id=301, groups=[1]),
                         CardCredential(card="pass:8", groups=[-8])],
            phone_keys=[PhoneKeyGrant(id=9, resident_id=301, public_key=NEIGHBOUR.public_key)],
            visitor_passes=[VisitorPassLimit(id=8, max_uses=5, uses=0)]))
        yield SignedCredentialDecider(cache, ledger)


def test_the_first_sites_credentials_are_refused_at_the_other_sites_door(
        other_site: SignedCredentialDecider) -> None:
    assert signed_snapshot().site != "moon-bay"  # the tokens below belong to garden-court
    assert other_site.decide_qr("lobby", qr(101), NOW).reason == "not_permitted"
    assert other_site.decide_qr("lobby", pass_token(), NOW).reason == "unknown_pass"
    answer = PHONE.answer(other_site.ble_challenge("lobby", NOW), key_id=5)
    assert other_site.decide_ble("lobby", answer, NOW).reason == "unknown_key"
    # claiming the other site's key id with the first site's phone fails the signature
    answer = PHONE.answer(other_site.ble_challenge("lobby", NOW), key_id=9)
    assert other_site.decide_ble("lobby", answer, NOW).reason == "bad_signature"


def test_the_other_sites_own_credentials_are_granted(other_site: SignedCredentialDecider) -> None:
    assert other_site.decide_qr("lobby", qr(301), NOW).granted
    token = SIGNER.visitor_pass(8, NOW, NOW + timedelta(hours=1), NOW).text
    assert other_site.decide_qr("lobby", token, NOW).granted
    answer = NEIGHBOUR.answer(other_site.ble_challenge("lobby", NOW), key_id=9)
    assert other_site.decide_ble("lobby", answer, NOW).granted
