"""The installation the hub pushes (wire.config): structure checked, hashed, sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from wire import ConfigContent, ConfigSnapshot, topics
from wire.config import DoorConfig

KEY = "00" * 16


def _content(**extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "site": "s1", "edge": "e1",
        "lines": [{"id": "bus-a", "port": "/dev/ttyUSB0", "protocol": "osdp", "baudrate": 9600},
                  {"id": "bus-m", "port": "/dev/ttyUSB1", "protocol": "modbus", "parity": "E"}],
        "doors": [{"id": "d1", "reader": {"line": "bus-a", "address": 1, "scbk": KEY}},
                  {"id": "d2", "reader": {"line": "bus-a", "address": 2, "scbk": KEY}},
                  {"id": "d3", "reader": {"port": "/dev/ttyS3", "scbk": KEY}}],
        "devices": [{"id": "lift", "model": "elevator-vvvf-a", "transport": "rtu",
                     "line": "bus-m"}],
    }
    raw.update(extra)
    return raw


def test_lines_resolve_to_ports_and_settings() -> None:
    content = ConfigContent.model_validate(_content()).resolved()
    d1 = content.doors[0].reader
    assert (d1.port, d1.baudrate, d1.line) == ("/dev/ttyUSB0", 9600, "bus-a")
    assert content.doors[2].reader.port == "/dev/ttyS3"  # a port given directly still works
    lift = content.devices[0]
    assert (lift.port, lift.serial.parity, lift.serial.baudrate) == ("/dev/ttyUSB1", "E", None)


@pytest.mark.parametrize(("change", "expected"), [
    ({"doors": [{"id": "d1", "reader": {"line": "nope", "scbk": KEY}}]},
     "door d1: line 'nope' is not a line here"),
    ({"doors": [{"id": "d1", "reader": {"line": "bus-m", "scbk": KEY}}]},
     "door d1: line bus-m is a modbus line, a reader needs an osdp line"),
    ({"doors": [{"id": "d1", "reader": {"line": "bus-a", "address": 7, "scbk": KEY}},
                {"id": "d2", "reader": {"port": "/dev/ttyUSB0", "address": 7, "scbk": KEY}}]},
     "two doors share one reader (same port and address): d1 and d2 at OSDP address 7"),
    ({"doors": [{"id": "d1", "reader": {"scbk": KEY}}]}, "exactly one of port and line"),
    ({"doors": [{"id": "d1", "reader": {"line": "bus-a", "port": "/dev/x", "scbk": KEY}}]},
     "exactly one of port and line"),
    ({"devices": [{"id": "x", "model": "m", "transport": "rtu", "line": "bus-a"}]},
     "device x: line bus-a is an osdp line, a Modbus device needs a modbus line"),
    ({"devices": [{"id": "x", "model": "m", "transport": "rtu", "port": "/dev/ttyUSB0"}]},
     "device x uses serial port /dev/ttyUSB0 for modbus, but line bus-a uses it for osdp"),
    ({"lines": [{"id": "a", "port": "/dev/x", "protocol": "osdp"},
                {"id": "b", "port": "/dev/x", "protocol": "osdp"}], "doors": [], "devices": []},
     "two lines on one serial port: /dev/x"),
    ({"lines": [{"id": "a", "port": "/dev/x", "protocol": "osdp"},
                {"id": "a", "port": "/dev/y", "protocol": "osdp"}], "doors": [], "devices": []},
     "line ids repeated: a"),
    ({"doors": [{"id": "d1", "reader": {"line": "bus-a", "scbk": KEY}, "elevator": "nope"}]},
     "door d1: elevator 'nope' is not a device"),
    ({"cameras": [{"id": "d1", "source": "x.avi"}]}, "camera d1: the id is taken"),
])
def test_an_inconsistent_installation_is_refused_naming_what(change: dict[str, Any],
                                                             expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        ConfigContent.model_validate(_content(**change))
    assert expected in str(err.value)


def test_snapshot_hash_covers_the_content_and_the_payload_round_trips() -> None:
    content = ConfigContent.model_validate(_content())
    snap = ConfigSnapshot.build(content, 3, datetime(2026, 12, 4, tzinfo=UTC))
    again = ConfigSnapshot.model_validate_json(snap.payload())
    assert (again.version, again.hash) == (3, content.content_hash())
    assert again.content() == content
    tampered = snap.payload().replace(b'"address":1,', b'"address":9,', 1)
    with pytest.raises(ValidationError, match="hash does not match"):
        ConfigSnapshot.model_validate_json(tampered)


def test_the_config_topic_is_a_channel_of_its_own() -> None:
    assert topics.config("s1", "e1") == "lintel/v1/s1/e1/config"
    assert topics.parse(topics.config("s1", "e1")).channel == "config"


def test_a_door_is_shared_by_hub_and_edge() -> None:
    from edge.config import DoorConfig as EdgeDoorConfig

    assert EdgeDoorConfig is DoorConfig


def test_a_car_readers_floor_map_is_carried_and_unset_changes_no_hash() -> None:
    plain = ConfigContent.model_validate(_content())
    assert '"floors"' not in plain.content_json()  # hashes made before the field still hold
    car = {"id": "car", "reader": {"line": "bus-a", "address": 3, "scbk": KEY},
           "elevator": "lift", "floors": [-1, 1, 2]}
    raw = _content()
    content = ConfigContent.model_validate({**raw, "doors": [*raw["doors"], car]})
    snap = ConfigSnapshot.model_validate_json(
        ConfigSnapshot.build(content, 1, datetime(2026, 12, 5, tzinfo=UTC)).payload())
    assert snap.doors[-1].floors == [-1, 1, 2]
    with pytest.raises(ValidationError, match="only a car reader"):
        DoorConfig.model_validate({**car, "elevator": None})
    with pytest.raises(ValidationError, match="no floor 0"):
        DoorConfig.model_validate({**car, "floors": [0, 1]})
