"""Raw words <-> engineering values, and how a model's map is read and written."""

from __future__ import annotations

import pytest

from edge.sensors.codec import encode, raw_value, scaled
from edge.sensors.device import DeviceReader, FaultTracker
from edge.sensors.loader import load_models
from edge.sensors.models import Register

MODELS = load_models()


@pytest.mark.parametrize(
    ("reg", "value", "words"),
    [
        (Register(name="t", table="holding", address=0, type="int16"), -2, [0xFFFE]),
        (Register(name="t", table="holding", address=0, type="uint32"), 70000, [1, 4464]),
        (Register(name="t", table="holding", address=0, type="int32"), -1, [0xFFFF, 0xFFFF]),
        (Register(name="t", table="input", address=0, scale=0.1), 675.0, [6750]),
        (Register(name="t", table="input", address=0, offset=-3), -2, [1]),
    ],
)
def test_round_trip(reg: Register, value: float, words: list[int]) -> None:
    assert encode(reg, value) == words
    assert scaled(reg, raw_value(reg, words)) == pytest.approx(value)


def test_out_of_range_value_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode(Register(name="t", table="holding", address=0), 70000)


def test_fault_tracker_raises_and_clears_once() -> None:
    reader = DeviceReader(MODELS["elevator-mrl-b"])
    base = {(b.table, b.address + i): 0 for b in reader.blocks for i in range(b.count)}
    tracker = FaultTracker(reader)
    assert tracker.update(base) == []
    faulty = {**base, ("input", 110): 0b101}  # F01 and F03
    events = tracker.update(faulty)
    assert [(e.event, e.code) for e in events] == [("fault_raised", "F01"), ("fault_raised", "F03")]
    assert tracker.update(faulty) == []
    events = tracker.update({**base, ("input", 110): 0b100})
    assert [(e.event, e.code) for e in events] == [("fault_cleared", "F01")]
