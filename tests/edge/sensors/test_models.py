"""Every firmware-configs file validates; a wrong file is refused naming file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.errors import ConfigError
from edge.sensors.device import DeviceReader
from edge.sensors.loader import FIRMWARE_DIR, load_model, load_models


def test_every_model_validates() -> None:
    models = load_models()
    kinds = [m.device_type for m in models.values()]
    assert kinds.count("elevator") >= 2 and kinds.count("fire_panel") >= 1
    assert kinds.count("pressure_sensor") >= 2
    for model in models.values():
        assert model.source and model.faults
        assert DeviceReader(model).blocks
        for fault in model.faults:
            assert fault.text_en and fault.text_zh and fault.skill


def _broken(tmp_path: Path, name: str, change: dict) -> Path:  # type: ignore[type-arg]
    raw = yaml.safe_load((FIRMWARE_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    raw.update(change)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"transport": {"kinds": ["can"]}}, "transport.kinds.0", "'rtu' or 'tcp'"),
        ({"registers": [{"name": "floor", "table": "coil", "address": 0}]}, "registers.0",
         "does not fit table coil"),
        ({"recall": {"register": "floor", "value": 1}}, "(top level)", "not a writable register"),
        ({"faults": [{"code": "X", "register": "nope", "equals": 1, "severity": "major",
                      "skill": "s", "text_en": "x", "text_zh": "x"}]}, "(top level)", "unknown register"),
    ],
)
def test_broken_file_is_refused_naming_the_key(tmp_path: Path, change: dict, key: str,  # type: ignore[type-arg]
                                               reason: str) -> None:
    path = _broken(tmp_path, "elevator-vvvf-a", change)
    with pytest.raises(ConfigError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and key in message and reason in message


def test_severity_must_be_known(tmp_path: Path) -> None:
    raw = yaml.safe_load((FIRMWARE_DIR / "fire-panel-8z.yaml").read_text(encoding="utf-8"))
    raw["faults"][0]["severity"] = "catastrophic"
    path = tmp_path / "fire-panel-8z.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"faults\.0\.severity"):
        load_model(path)


def test_edge_config_refuses_an_unknown_device_model_naming_the_key() -> None:
    from edge.config import parse_config

    raw = {"site": "s", "edge": "e", "data_dir": "/tmp/x",
           "devices": [{"id": "lift", "model": "elevator-nope", "transport": "tcp", "host": "h"}]}
    with pytest.raises(ConfigError, match=r"devices\.0: .*unknown model 'elevator-nope'"):
        parse_config(raw)
    raw["devices"] = [{"id": "lift", "model": "elevator-mrl-b", "transport": "tcp", "host": "h"}]
    with pytest.raises(ConfigError, match=r"devices\.0: .*offers no tcp transport"):
        parse_config(raw)


def test_two_rtu_devices_at_one_unit_id_of_a_port_are_refused() -> None:
    from edge.config import parse_config

    raw = {"site": "s", "edge": "e", "data_dir": "/tmp/x", "devices": [
        {"id": "spr", "model": "pressure-sprinkler-pt", "transport": "rtu", "port": "/dev/ttyUSB1"},
        {"id": "fire", "model": "fire-panel-8z", "transport": "rtu", "port": "/dev/ttyUSB1",
         "unit_id": 11},
    ]}
    with pytest.raises(ConfigError, match="devices spr and fire share unit id 11 on /dev/ttyUSB1"):
        parse_config(raw)
    del raw["devices"][1]["unit_id"]  # type: ignore[attr-defined]
    assert len(parse_config(raw).devices) == 2  # several units share a line
