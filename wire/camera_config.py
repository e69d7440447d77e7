"""A camera of the edge's installation (part of wire.config): its source, the door it reads QR
codes for, motion zones and tamper checks. Strict like every wire model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from wire._base import Name, WireModel
from wire.permissions import TimeWindow

Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class ZoneConfig(WireModel):
    """A motion zone: a polygon in fractions of the picture (0..1, x then y), armed by its
    schedule (site-local time; none: always armed)."""

    name: Name
    polygon: list[Point] = Field(min_length=3, max_length=64)
    schedule: list[TimeWindow] | None = Field(
        default=None, description="when the zone is armed; omitted: always")
    min_area: float = Field(default=0.03, gt=0, le=1,
                            description="fraction of the zone that must change")
    persist_frames: int = Field(default=3, ge=1, le=100,
                                description="consecutive frames of motion before an alert")
    cooldown_s: float = Field(default=30.0, ge=0, le=86400,
                              description="no second alert of the zone within this time")

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[Point]) -> list[Point]:
        area = 0.0
        for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
            area += x1 * y2 - x2 * y1
        if abs(area) / 2 < 1e-4:
            raise ValueError("the polygon encloses no area")
        return polygon


class MotionConfig(WireModel):
    pixel_threshold: int = Field(default=30, ge=1, le=255,
                                 description="grey-level change that counts a pixel as moved")
    global_change_max: float = Field(
        default=0.45, gt=0, le=1,
        description="more of the whole picture changed than this: lighting or tamper, no alert")
    background_rate: float = Field(default=0.05, gt=0, le=1,
                                   description="how fast the background follows the scene")


class TamperConfig(WireModel):
    enabled: bool = True
    learn_frames: int = Field(default=10, ge=1, le=1000,
                              description="frames that set the reference view and focus baseline")
    dark_level: float = Field(default=35, ge=0, le=255, description="mean grey below: dark")
    flat_stddev: float = Field(default=12, ge=0, le=128, description="grey spread below: flat")
    focus_ratio: float = Field(default=0.3, gt=0, lt=1,
                               description="sharpness below this part of the baseline: defocused")
    moved_ratio: float = Field(default=0.25, gt=0, lt=1,
                               description="reference features still in place below: turned")
    persist_frames: int = Field(default=5, ge=1, le=1000,
                                description="consecutive frames before a fault is raised/cleared")
    check_every: int = Field(default=3, ge=1, le=100,
                             description="the costlier checks (focus, view) every n frames")


class CameraConfig(WireModel):
    id: Name = Field(description="the camera's device id in events")
    name: str = ""
    model: str = Field(default="ip-camera", max_length=64)
    source: str = Field(min_length=1, description="rtsp://…, http(s)://… (MJPEG), a video "
                        "file, or device:N for a local camera")
    door: Name | None = Field(default=None, description="reads QR codes for this door")
    loop: bool = Field(default=False, description="a file: start again at its end")
    realtime: bool = Field(default=True,
                           description="a file: at its own fps (false: every frame, at once)")
    max_fps: float | None = Field(default=None, gt=0, le=120)
    queue_frames: int = Field(default=2, ge=1, le=100)
    backoff_min_s: float = Field(default=0.5, gt=0, le=60)
    backoff_max_s: float = Field(default=30.0, gt=0, le=3600)
    qr_holdoff_s: float = Field(default=10.0, gt=0, le=3600,
                                description="the same code in view is decided again after this")
    qr_gone_s: float = Field(default=1.0, gt=0, le=60,
                             description="a code unseen this long has left the view")
    zones: list[ZoneConfig] = Field(default_factory=list)
    motion: MotionConfig = MotionConfig()
    tamper: TamperConfig = TamperConfig()
    snapshot_quality: int = Field(default=80, ge=10, le=100)
    clip_frames: int = Field(default=16, ge=0, le=300,
                             description="frames before the alert kept as its clip (0: none)")
    health_every_s: float = Field(default=30.0, ge=1, le=3600,
                                  description="counters (fps, drops, errors) this often")

    @model_validator(mode="after")
    def _check(self) -> CameraConfig:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError("zone names repeated")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s is below backoff_min_s")
        if self.source.startswith("device:") and not self.source[7:].isdigit():
            raise ValueError("a local device is device:<number>, e.g. device:0")
        return self


__all__ = ["CameraConfig", "MotionConfig", "TamperConfig", "ZoneConfig"]
