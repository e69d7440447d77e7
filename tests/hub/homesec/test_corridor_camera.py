"""Which camera's picture a unit's alarm carries: the panel's own choice, else the first camera
of its edge that covers the unit's floor."""

from __future__ import annotations

from hub.cameras.models import Camera
from hub.installation.compile import _corridor_camera
from wire.homesec import PanelSettings

CAMERAS = [Camera(name="cam-lobby", floors=None), Camera(name="cam-3f-west", floors=[3, 4]),
           Camera(name="cam-3f-east", floors=[3]), Camera(name="cam-1f", floors=[1])]


def test_the_camera_covering_the_units_floor_is_taken() -> None:
    assert _corridor_camera(PanelSettings(unit="301", floor=3), CAMERAS).camera == "cam-3f-east"
    assert _corridor_camera(PanelSettings(unit="401", floor=4), CAMERAS).camera == "cam-3f-west"
    assert _corridor_camera(PanelSettings(unit="101", floor=1), CAMERAS).camera == "cam-1f"


def test_no_covering_camera_no_floor_or_a_chosen_one() -> None:
    assert _corridor_camera(PanelSettings(unit="201", floor=2), CAMERAS).camera is None
    assert _corridor_camera(PanelSettings(unit="x"), CAMERAS).camera is None
    chosen = PanelSettings(unit="301", floor=3, camera="cam-lobby")
    assert _corridor_camera(chosen, CAMERAS).camera == "cam-lobby"
