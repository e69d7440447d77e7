"""The cameras section of the edge's config: strict, with the key path in each error."""

from __future__ import annotations

from typing import Any

import pytest

from edge.config import parse_config
from edge.errors import ConfigError

WHOLE = [[0, 0], [1, 0], [1, 1], [0, 1]]


def config(cameras: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"site": "demo", "edge": "b1-edge", "data_dir": "/tmp/edge",
            "doors": [{"id": "B1-main", "reader": {"port": "/dev/ttyS0", "scbk": "00" * 16}}],
            "cameras": cameras, **extra}


def test_a_full_camera_section_is_accepted() -> None:
    cfg = parse_config(config([
        {"id": "cam-gate", "source": "rtsp://10.0.0.5/stream1", "door": "B1-main"},
        {"id": "cam-roof", "source": "device:0", "zones": [
            {"name": "roof", "polygon": WHOLE, "min_area": 0.05,
             "schedule": [{"days": [5, 6], "start": "20:00", "end": "24:00"}]}]},
    ], uploads={"url": "https://hub.example/", "token": "x" * 43}))
    assert [c.id for c in cfg.cameras] == ["cam-gate", "cam-roof"]
    assert cfg.uploads is not None and cfg.uploads.url == "https://hub.example"


@pytest.mark.parametrize(("cameras", "extra", "expected"), [
    ([{"id": "c1", "source": "a.avi", "door": "B9"}], {}, "door 'B9' is not a door here"),
    ([{"id": "c1", "source": "a.avi"}, {"id": "c1", "source": "b.avi"}], {},
     "camera ids repeated"),
    ([{"id": "B1-main", "source": "a.avi"}], {}, "taken by a device or door"),
    ([{"id": "c1", "source": "a.avi", "zones": [{"name": "z", "polygon": [[0, 0], [1, 1], [0.5, 0.5]]}]}],
     {}, "cameras.0.zones.0.polygon: Value error, the polygon encloses no area"),
    ([{"id": "c1", "source": "a.avi", "zones": [{"name": "z", "polygon": [[0, 0], [2, 0], [1, 1]]}]}],
     {}, "cameras.0.zones.0.polygon.1.0"),
    ([{"id": "c1", "source": "a.avi", "zones": [{"name": "z", "polygon": WHOLE, "colour": 1}]}],
     {}, "cameras.0.zones.0.colour: Extra inputs are not permitted"),
    ([{"id": "c1", "source": "device:front"}], {}, "device:<number>"),
    ([{"id": "c1", "source": "a.avi", "zones": [{"name": "z", "polygon": WHOLE,
       "schedule": [{"days": [1], "start": "22:00", "end": "06:00"}]}]}], {},
     "end 06:00 is not after start 22:00"),
    ([], {"uploads": {"url": "ftp://hub", "token": "x" * 40}}, "uploads.url"),
    ([], {"uploads": {"url": "http://hub", "token": "short"}}, "uploads.token"),
])
def test_bad_camera_config_is_refused_with_its_key(cameras: list[dict[str, Any]],
                                                   extra: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(config(cameras, **extra))
    assert expected in str(err.value)
