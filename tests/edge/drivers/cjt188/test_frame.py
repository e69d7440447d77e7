"""CJ/T 188-2004 frames against worked frames published with a public CJ/T 188 tool
(python_cjt188's self-test: meter 00000000000012, a read of DI 90 1F and its answer)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edge.drivers.cjt188 import (
    HOT_WATER,
    Frame,
    FrameError,
    FrameReader,
    current_answer,
    decode,
    encode,
    parse_current,
    read_request,
)

METER = "00000000000012"
REQUEST = bytes.fromhex("68 10 12 00 00 00 00 00 00 01 03 90 1F 00 3D 16")
ANSWER = bytes.fromhex("FE FE FE 68 10 12 00 00 00 00 00 00 81 16 90 1F 00 10 00 10 00 2C"
                       " 10 00 10 00 2C 00 00 00 00 00 00 00 00 FF 67 16")


def test_the_read_request_is_the_published_frame() -> None:
    assert read_request(METER, wake=0) == REQUEST
    assert read_request(METER)[:3] == b"\xfe\xfe\xfe" and read_request(METER)[3:] == REQUEST


def test_the_published_answer_decodes_to_its_flows() -> None:
    frame = decode(ANSWER)
    assert (frame.meter_type, frame.address, frame.control) == (0x10, METER, 0x81)
    current = parse_current(frame, METER)
    assert current.volume_m3 == Decimal("1000.10") == current.settlement_m3
    assert current.valve == "open" and not current.battery_low


def test_a_hot_water_meters_read_is_the_published_frame_of_type_11() -> None:
    """The published read with the meter type 10 (cold) made 11 (domestic hot water): the
    checksum one more."""
    hot = bytes.fromhex("68 11 12 00 00 00 00 00 00 01 03 90 1F 00 3E 16")
    assert read_request(METER, meter_type=HOT_WATER, wake=0) == hot
    assert decode(hot).meter_type == HOT_WATER


def test_a_hot_water_answer_is_taken_for_a_hot_meter_only() -> None:
    raw = current_answer(METER, Decimal("12.50"), meter_type=HOT_WATER)
    assert parse_current(decode(raw), METER, HOT_WATER).volume_m3 == Decimal("12.50")
    with pytest.raises(FrameError, match="answer from a meter of type 11, asked type 10"):
        parse_current(decode(raw), METER)
    with pytest.raises(FrameError, match="answer from a meter of type 10, asked type 11"):
        parse_current(decode(ANSWER), METER, HOT_WATER)


def test_the_simulators_answer_round_trips() -> None:
    raw = current_answer("12345678901234", Decimal("87.65"), valve="closed", battery_low=True)
    current = parse_current(decode(raw), "12345678901234")
    assert (current.volume_m3, current.valve, current.battery_low) == (Decimal("87.65"),
                                                                         "closed", True)


@pytest.mark.parametrize(("raw", "reason"), [
    (ANSWER[:-2] + b"\x68\x16", "checksum is 68, expected 67"),
    (ANSWER[:-1] + b"\x17", "not 16"),
    (ANSWER[:13] + b"\x15" + ANSWER[14:], "length byte says 21"),
    (b"\x69" + ANSWER[4:], "starts with 69, not 68"),
])
def test_a_bad_frame_is_refused_naming_why(raw: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode(raw)


def test_an_answer_from_another_meter_or_not_the_current_data_is_refused() -> None:
    with pytest.raises(FrameError, match="asked 00000000000013"):
        parse_current(decode(ANSWER), "00000000000013")
    other = decode(encode(Frame(0x10, METER, 0x81, b"\x90\x2f\x00")))
    with pytest.raises(FrameError, match="not the current data"):
        parse_current(other, METER)


def test_the_reader_resynchronises_after_noise_and_a_garbled_frame() -> None:
    reader = FrameReader()
    garbled = ANSWER[:-2] + b"\x00\x16"
    got = reader.feed(b"\x01\x02" + garbled[:10]) + reader.feed(garbled[10:] + ANSWER)
    assert [type(g).__name__ for g in got] == ["FrameError", "FrameError", "Frame"]
    assert isinstance(got[2], Frame) and got[2].address == METER
