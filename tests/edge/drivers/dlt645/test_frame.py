"""The DL/T 645-2007 codec against worked frames published with public DL/T 645 tools.

Sources (exact bytes, found by code search and checked by hand: checksum = sum of 68 … data
mod 256, data + 0x33):
- a dl645 Python test script: request `68 11 11 11 11 11 11 68 11 04 33 33 33 33 17 16`, the
  meter's answer `68 11 11 11 11 11 11 68 91 08 33 33 33 33 68 39 33 33 A2 16` (6.35 kWh);
- a C++ meter-reading client ("readelecdata::ReadTotalPower"): meter 221211182903 read with
  three wake-up bytes, `FE FE FE 68 03 29 18 11 12 22 68 11 04 33 33 33 33 3A 16`;
- a Java gateway's broadcast read `68 AA AA AA AA AA AA 68 11 04 33 33 33 33 AD 16` (the AA
  wildcard address is not a meter number: decoding it is refused as not BCD).
The dlt645 package on PyPI (3.2.0) builds the same bytes for these requests.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.drivers.dlt645 import ITEMS, Frame, FrameError, FrameReader, decode, encode, read_request
from edge.drivers.dlt645.frame import answer_value, error_answer

ANSWER_635 = bytes.fromhex("68 11 11 11 11 11 11 68 91 08 33 33 33 33 68 39 33 33 A2 16")


def test_read_requests_match_the_published_frames() -> None:
    assert read_request("111111111111", 0x00000000, wake=0) == bytes.fromhex(
        "68 11 11 11 11 11 11 68 11 04 33 33 33 33 17 16")
    assert read_request("221211182903", 0x00000000, wake=3) == bytes.fromhex(
        "FE FE FE 68 03 29 18 11 12 22 68 11 04 33 33 33 33 3A 16")


def test_the_published_answer_decodes_to_6_35_kwh() -> None:
    frame = decode(ANSWER_635)
    assert frame == Frame("111111111111", 0x91, bytes.fromhex("00000000 35060000"))
    value = answer_value(frame, "111111111111", 0x00000000)
    assert ITEMS["energy_kwh"].decode(value) == Decimal("6.35")
    assert encode(frame, wake=0) == ANSWER_635


def test_any_number_of_wake_up_bytes_is_skipped() -> None:
    for n in (0, 1, 4, 9):
        assert decode(b"\xfe" * n + ANSWER_635).address == "111111111111"


@pytest.mark.parametrize(("raw", "reason"), [
    (ANSWER_635[:-2] + b"\xa3\x16", "checksum is A3, expected A2"),
    (ANSWER_635[:-1] + b"\x17", "ends with 17, not 16"),
    (ANSWER_635[:7] + b"\x69" + ANSWER_635[8:], "second start byte is 69"),
    (ANSWER_635[:-3] + ANSWER_635[-2:], "length byte says 8 data bytes, frame holds 7"),
    (ANSWER_635[:9], "shorter than the minimum 12"),
    (b"\xfe\xfe", "only wake-up bytes"),
    (b"\x10" + ANSWER_635, "starts with 10, not 68"),
    (bytes.fromhex("68 AA AA AA AA AA AA 68 11 04 33 33 33 33 AD 16"), "not BCD"),
])
def test_garbled_frames_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode(raw)


def test_an_answer_from_another_meter_or_for_another_item_is_refused() -> None:
    frame = decode(ANSWER_635)
    with pytest.raises(FrameError, match="answer from meter 111111111111, asked 221211182903"):
        answer_value(frame, "221211182903", 0)
    with pytest.raises(FrameError, match="not for data identifier 02010100"):
        answer_value(frame, "111111111111", 0x02010100)


def test_an_error_answer_names_the_meters_error() -> None:
    frame = decode(error_answer("111111111111", 0x02))
    assert frame.control == 0xD1 and frame.data == b"\x02"
    with pytest.raises(FrameError, match="meter answered error 02: no such data requested"):
        answer_value(frame, "111111111111", 0x02800001)


@pytest.mark.parametrize("address", ["12345678901", "12345678901a", "1234567890123"])
def test_a_meter_number_is_twelve_digits(address: str) -> None:
    with pytest.raises(FrameError, match="not 12 decimal digits"):
        read_request(address, 0)


def test_values_decode_with_their_decimals_and_sign() -> None:
    assert ITEMS["voltage_a_v"].decode(bytes.fromhex("3422")) == Decimal("223.4")
    assert ITEMS["current_a_a"].decode(bytes.fromhex("345201")) == Decimal("15.234")
    assert ITEMS["power_kw"].decode(bytes.fromhex("561280")) == Decimal("-0.1256")  # reverse
    with pytest.raises(FrameError, match="not BCD"):
        ITEMS["energy_kwh"].decode(bytes.fromhex("0A000000"))
    for item in ITEMS.values():
        for number in (Decimal("0"), Decimal("12.5")):
            assert item.decode(item.encode(number)) == number


def test_a_stream_resynchronises_after_a_garbled_frame() -> None:
    bad = ANSWER_635[:-2] + b"\x00\x16"
    reader = FrameReader()
    got = reader.feed(b"\xfe\xfe" + bad + b"\xfe\xfe\xfe" + ANSWER_635[:5])
    got += reader.feed(ANSWER_635[5:])
    assert [type(g) for g in got] == [FrameError, Frame]
    assert isinstance(got[0], FrameError) and "checksum" in got[0].reason
    noisy = FrameReader().feed(b"\x01\x02" + ANSWER_635 + b"\x03")
    assert [type(g) for g in noisy] == [FrameError, Frame, FrameError]
