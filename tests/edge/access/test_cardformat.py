"""Raw Wiegand reads decoded into facility code and card number, parity checked, and the
site's facility codes checked by the decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.access.cardformat import CardFormatError, decode_wiegand
from edge.access.decision import AccessDecider
from simulators.osdp_door import encode_wiegand, pack_bits
from tests.edge.access.snapshots import snapshot
from tests.edge.access.test_tokens import NOW
from wire import CardCredential, CardFormatRule

BOTH = CardFormatRule()


@pytest.mark.parametrize(("bits", "facility", "card"),
                         [(26, 12, 3456), (26, 255, 65535), (26, 0, 0), (34, 4097, 1001),
                          (34, 65535, 1)])
def test_decodes_what_a_reader_sends(bits: int, facility: int, card: int) -> None:
    decoded = decode_wiegand(encode_wiegand(facility, card, bits), bits, BOTH)
    assert (decoded.facility, decoded.number) == (facility, card)


def test_a_known_h10301_read() -> None:
    # facility 1, card 1: even parity 1 (one 1 in the first 12 bits), odd parity 0
    value = 0b1_00000001_0000000000000001_0
    decoded = decode_wiegand(pack_bits(value, 26), 26, BOTH)
    assert (decoded.facility, decoded.number) == (1, 1)
    first_bit_flipped = pack_bits(value ^ 1 << 25, 26)
    with pytest.raises(CardFormatError) as err:
        decode_wiegand(first_bit_flipped, 26, BOTH)
    assert err.value.reason == "bad_parity"


@pytest.mark.parametrize("bit", [0, 5, 13, 20, 25])
def test_any_single_bit_misread_fails_parity(bit: int) -> None:
    data = bytearray(encode_wiegand(12, 3456, 26))
    value = int.from_bytes(data, "big") ^ (1 << (32 - 26 + bit))
    with pytest.raises(CardFormatError, match="parity") as err:
        decode_wiegand(value.to_bytes(4, "big"), 26, BOTH)
    assert err.value.reason == "bad_parity"


def test_a_length_the_site_does_not_use_is_unknown() -> None:
    with pytest.raises(CardFormatError) as err:
        decode_wiegand(encode_wiegand(1, 2, 34), 34, CardFormatRule(wiegand=[26]))
    assert err.value.reason == "unknown_format"
    with pytest.raises(CardFormatError):
        decode_wiegand(b"\x00" * 5, 37, BOTH)


def test_check_facility_needs_codes() -> None:
    with pytest.raises(ValueError, match="facility_codes"):
        CardFormatRule(check_facility=True)


def test_the_site_refuses_other_facilities_when_it_says_so(tmp_path: Path) -> None:
    cards = [CardCredential(card="3456", resident_id=7, groups=[1])]
    rule = CardFormatRule(check_facility=True, facility_codes=[12])
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(snapshot(credentials=cards, card_format=rule))
        decider = AccessDecider(cache)
        assert decider.decide_card("lobby", "3456", NOW, facility=12).granted
        other = decider.decide_card("lobby", "3456", NOW, facility=13)
        assert (other.result, other.reason) == ("denied", "wrong_facility")
        # the reader's own decoded number carries no facility: taken as it is
        assert decider.decide_card("lobby", "3456", NOW).granted
        cache.apply(snapshot(2, credentials=cards))  # a site that does not check
        assert decider.decide_card("lobby", "3456", NOW, facility=13).granted
