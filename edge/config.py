"""The edge agent's configuration: one YAML file, validated strictly at start-up.

The file holds the edge's identity and bootstrap: site, edge, broker, data folder, the hub's
keys, disk settings. What the edge drives (lines, doors, devices, cameras) is the hub's signed
configuration (wire.config); the same sections in the file are still accepted as the initial
installation (labs, tests, the demo), which a configuration from the hub supersedes.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.cameras.config import CameraConfig, UploadConfig
from edge.errors import ConfigError
from wire.config import (
    ConfigContent,
    DeviceConfig,
    DoorConfig,
    ReaderConfig,
    SerialLine,
    SerialOverride,
    check_installation,
)
from wire.vehicles import LaneConfig

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, description="this edge's own broker account")
    password: str | None = None
    keepalive_s: int = Field(default=15, ge=5, le=600)
    # whole seconds: paho's reconnect loop (capped exponential) counts in seconds
    backoff_min_s: int = Field(default=1, ge=1, le=60, description="first reconnect delay")
    backoff_max_s: int = Field(default=10, ge=1, le=600, description="cap of the reconnect delay")
    inflight: int = Field(default=100, ge=1, le=1000, description="unacknowledged publishes at once")
    unconfirmed_max: int = Field(
        default=10_000, ge=1, le=1_000_000,
        description="messages sent and not yet confirmed stored by the hub, at most")
    resend_after_s: float = Field(
        default=10.0, ge=0.5, le=600,
        description="send a message again when the hub has not confirmed it in this time")
    resend_max_s: float = Field(
        default=120.0, ge=1, le=3600,
        description="cap of that wait, which doubles while the hub confirms nothing")
    tls: bool = Field(default=False, description="connect over TLS (port 8883 as a rule)")
    ca_file: Path | None = Field(default=None, description="CA bundle; None: the system's")
    cert_file: Path | None = Field(default=None, description="client certificate (PEM) instead of a password")
    key_file: Path | None = Field(default=None, description="the client certificate's private key (PEM)")

    @model_validator(mode="after")
    def _bounds(self) -> MqttConfig:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s is below backoff_min_s")
        if self.resend_max_s < self.resend_after_s:
            raise ValueError("resend_max_s is below resend_after_s")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.cert_file is not None and not self.tls:
            raise ValueError("a client certificate needs tls: true")
        return self


class EdgeConfig(_Strict):
    site: Name
    edge: Name
    data_dir: Path = Field(description="outbox and permission cache live here")
    mqtt: MqttConfig = MqttConfig()
    # the initial installation, until the hub's signed configuration supersedes it
    lines: list[SerialLine] = Field(default_factory=list)
    doors: list[DoorConfig] = Field(default_factory=list)
    tick_s: float = Field(default=0.05, gt=0, le=1, description="door timer resolution")
    board_rotate_s: float = Field(default=8.0, ge=1, le=600,
                                  description="how long an LED board shows each notice")
    devices: list[DeviceConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    uploads: UploadConfig | None = Field(default=None, description="snapshots to the hub")
    lanes: list[LaneConfig] = Field(default_factory=list, description="vehicle lanes")
    lanes_host: str = Field(default="0.0.0.0", description="where plate cameras push to")
    lanes_port: int = Field(default=8088, ge=0, le=65535,
                            description="their port (`POST /lpr/<lane>`); 0 picks a free one")
    disk_low_mb: int = Field(
        default=200, ge=0, description="free space (MB) under data_dir below which disk_low is raised")
    disk_check_s: float = Field(
        default=30.0, gt=0, le=3600, description="how often free space is checked")
    hub_keys: list[str] = Field(
        default_factory=list, max_length=8,
        description="the hub's Ed25519 public keys (raw, base64) this edge trusts: every "
        "message from the hub (permissions, commands) must be signed by one of them, or by a "
        "key the hub announced in a message they signed (a key rollover). Written by "
        "`lintel provision`; with none, the edge obeys nothing from the broker")

    @field_validator("hub_keys")
    @classmethod
    def _public_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            try:
                raw = base64.b64decode(key, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"{key!r} is not base64") from exc
            if len(raw) != 32:
                raise ValueError(f"{key!r} is {len(raw)} bytes, a raw Ed25519 public key is 32")
        return keys

    @model_validator(mode="after")
    def _installation(self) -> EdgeConfig:
        from edge.installation import check_supported  # the model files are data beside the code

        check_installation(self.lines, self.doors, self.devices, self.cameras)
        problem = check_supported(self.installation(), ports=False)
        if problem is not None:
            raise ValueError(problem.detail)
        return self

    def installation(self) -> ConfigContent:
        """The file's doors, devices, cameras and lines: the installation run until the hub's
        configuration arrives (validated already, with this model)."""
        return ConfigContent.model_construct(
            site=self.site, edge=self.edge, lines=self.lines, doors=self.doors,
            devices=self.devices, cameras=self.cameras, lanes=self.lanes)

    def bootstrap(self) -> EdgeConfig:
        """The same configuration without an installation: identity and bootstrap only."""
        return self.model_copy(update={"lines": [], "doors": [], "devices": [], "cameras": [],
                                       "lanes": []})


def load_config(path: Path | str) -> EdgeConfig:
    """Read and validate the YAML file; errors name the file, the key path and the reason."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_config(raw, source=str(path))


def parse_config(raw: object, source: str = "config") -> EdgeConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc


__all__ = [
    "CameraConfig", "ConfigContent", "DeviceConfig", "DoorConfig", "EdgeConfig", "MqttConfig",
    "ReaderConfig", "SerialLine", "SerialOverride", "UploadConfig", "load_config",
    "parse_config",
]
