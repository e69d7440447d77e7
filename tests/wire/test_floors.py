"""Floors as buildings number them (no floor 0), their labels, and what a lift model serves."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from edge.sensors.loader import load_models
from wire.floors import FloorIn, floor_label, parse_floor, served_floors


def test_labels_round_trip_and_refuse_what_is_no_floor() -> None:
    assert [floor_label(f) for f in (-2, -1, 1, 12)] == ["B2", "B1", "1", "12"]
    assert [parse_floor(t) for t in ("B2", "b1", "1", "12F", " 3 ")] == [-2, -1, 1, 12, 3]
    for bad in ("0", "B0", "roof", "", "1.5", "B10"):
        with pytest.raises(ValueError, match="floor"):
            parse_floor(bad)
    adapter = TypeAdapter(FloorIn)
    assert adapter.validate_python("B1") == -1 and adapter.validate_python(7) == 7
    with pytest.raises(ValidationError, match="no floor 0"):
        adapter.validate_python(0)


def test_each_lift_model_serves_the_floors_its_bits_map_to() -> None:
    assert served_floors(-2, 4) == [-2, -1, 1, 2]
    assert served_floors(1, 3) == [1, 2, 3]
    for model in load_models().values():
        fa = model.floor_access
        if fa is None:
            continue
        served = served_floors(fa.lowest_floor, fa.floors)
        assert [fa.bit(f) for f in served] == list(range(fa.floors)), model.model
        assert [fa.floor(b) for b in range(fa.floors)] == served, model.model
        assert fa.bit(0) is None and fa.bit(served[-1] + 1) is None
