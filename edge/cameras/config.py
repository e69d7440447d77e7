"""The `cameras:` and `uploads:` sections of the edge's configuration (strict, like the rest).

A camera is part of the installation the hub pushes (wire.camera_config); where its snapshots
go (`uploads`, with this edge's own token) is the edge's own bootstrap."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wire.camera_config import CameraConfig, MotionConfig, TamperConfig, ZoneConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadConfig(_Strict):
    """Where snapshots go: the hub's HTTP address and this edge's upload token (issued by an
    admin with POST /api/v1/edges/{id}/upload-token; the hub keeps only its hash)."""

    url: str = Field(description="the hub's base address, e.g. https://hub.example:8080")
    token: str = Field(min_length=20, max_length=200, description="this edge's upload token")
    spool_max_mb: float = Field(default=200, gt=0, le=100_000,
                                description="oldest spooled snapshots go beyond this")
    timeout_s: float = Field(default=10, gt=0, le=300)
    backoff_min_s: float = Field(default=1, gt=0, le=60)
    backoff_max_s: float = Field(default=60, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


__all__ = ["CameraConfig", "MotionConfig", "TamperConfig", "UploadConfig", "ZoneConfig"]
