"""The edge agent's configuration: one YAML file, validated strictly at start-up."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.cameras.config import CameraConfig, UploadConfig
from edge.errors import ConfigError

if TYPE_CHECKING:
    from edge.sensors.models import DeviceModel

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


class ReaderConfig(_Strict):
    port: str = Field(description="serial device of the RS-485 line, e.g. /dev/ttyUSB0")
    address: int = Field(default=101, ge=0, le=126, description="OSDP address of the reader")
    scbk: str = Field(description="secure channel base key, 32 hex digits, per device")
    baudrate: int = Field(default=115200)

    @field_validator("scbk")
    @classmethod
    def _key(cls, value: str) -> str:
        try:
            key = bytes.fromhex(value)
        except ValueError as exc:
            raise ValueError("scbk must be hexadecimal") from exc
        if len(key) != 16:
            raise ValueError(f"scbk must be 16 bytes (32 hex digits), got {len(key)}")
        return value.lower()

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.scbk)


class DoorConfig(_Strict):
    id: Name
    name: str = ""
    reader: ReaderConfig
    relay_output: int = Field(default=0, ge=0, le=15, description="controller output driving the lock")
    contact_input: int = Field(default=0, ge=0, le=15, description="door contact input (active = open)")
    rex_input: int | None = Field(default=1, ge=0, le=15, description="request-to-exit button input")
    unlock_s: float = Field(default=5.0, gt=0, le=300, description="unlock pulse length")
    held_open_s: float = Field(default=30.0, gt=0, le=3600, description="open longer raises held_open")
    fail_safe_egress: bool = Field(default=False, description="released by the edge on a fire alarm")
    elevator: Name | None = Field(default=None, description="set on a car reader: the elevator's device id")
    floor_enable_s: float = Field(default=10.0, gt=0, le=600, description="how long a card enables floors")


class SerialOverride(_Strict):
    """The line settings as installed, when they differ from the model's factory settings."""

    baudrate: int | None = Field(default=None, ge=1200, le=115200)
    parity: Literal["N", "E", "O"] | None = None
    stopbits: Literal[1, 2] | None = None


class DeviceConfig(_Strict):
    """A Modbus device (elevator controller, fire panel, pressure sensor) this edge polls."""

    id: Name
    name: str = ""
    model: str = Field(description="a model in firmware-configs/, e.g. elevator-vvvf-a")
    transport: Literal["rtu", "tcp"]
    port: str | None = Field(default=None, description="serial device of the RS-485 line (rtu)")
    host: str | None = Field(default=None, description="address of the device or gateway (tcp)")
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    unit_id: int | None = Field(default=None, ge=1, le=247, description="default: the model's")
    serial: SerialOverride = SerialOverride()
    poll_interval_s: float = Field(default=1.0, ge=0.05, le=3600)
    timeout_s: float | None = Field(default=None, gt=0, le=10, description="default: the model's")
    offline_after: int = Field(default=3, ge=1, le=100, description="failed polls before offline")
    counters_every_s: float = Field(default=60.0, ge=1, description="how often counters are reported")
    telemetry_every_s: float = Field(default=60.0, ge=1, description="telemetry while unchanged")
    backoff_min_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        from edge.sensors.loader import load_models  # the model files are data beside the code

        models = load_models()
        model = models.get(self.model)
        if model is None:
            raise ValueError(f"unknown model {self.model!r}; known: {', '.join(sorted(models))}")
        if self.transport not in model.transport.kinds:
            raise ValueError(f"model {self.model} offers no {self.transport} transport")
        if self.transport == "rtu" and not self.port:
            raise ValueError("an rtu device needs port")
        if self.transport == "tcp" and not self.host:
            raise ValueError("a tcp device needs host")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s is below backoff_min_s")
        return self


class EdgeConfig(_Strict):
    site: Name
    edge: Name
    data_dir: Path = Field(description="outbox and permission cache live here")
    mqtt: MqttConfig = MqttConfig()
    doors: list[DoorConfig] = Field(default_factory=list)
    tick_s: float = Field(default=0.05, gt=0, le=1, description="door timer resolution")
    devices: list[DeviceConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    uploads: UploadConfig | None = Field(default=None, description="snapshots to the hub")
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
    def _unique(self) -> EdgeConfig:
        ids = [d.id for d in self.doors]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"door ids repeated: {', '.join(dupes)}")
        readers = [(d.reader.port, d.reader.address) for d in self.doors]
        if len(set(readers)) != len(readers):
            raise ValueError("two doors share one reader (same port and address)")
        devices = {d.id: d for d in self.devices}
        if len(devices) != len(self.devices):
            raise ValueError("device ids repeated")
        _check_lines(self.devices)
        for door in self.doors:
            if door.elevator is not None and door.elevator not in devices:
                raise ValueError(f"door {door.id}: elevator {door.elevator!r} is not a device")
        self._check_cameras(set(devices))
        return self

    def _check_cameras(self, devices: set[str]) -> None:
        ids = [c.id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids repeated")
        doors = {d.id for d in self.doors}
        for camera in self.cameras:
            if camera.id in devices or camera.id in doors:
                raise ValueError(f"camera {camera.id}: the id is taken by a device or door")
            if camera.door is not None and camera.door not in doors:
                raise ValueError(f"camera {camera.id}: door {camera.door!r} is not a door here")


def _check_lines(devices: list[DeviceConfig]) -> None:
    """Several units may share one RS-485 line (or one TCP gateway): at distinct unit ids and,
    on a serial line, with the same serial settings (the line has one)."""
    from edge.sensors.loader import load_models

    models = load_models()
    lines: dict[tuple[str, ...], dict[int, DeviceConfig]] = {}
    for dev in devices:
        model = models[dev.model].transport
        if dev.transport == "rtu":
            key: tuple[str, ...] = ("rtu", str(dev.port))
        else:
            key = ("tcp", str(dev.host), str(dev.tcp_port or model.tcp_port))
        unit = dev.unit_id or model.unit_id
        units = lines.setdefault(key, {})
        if unit in units:
            raise ValueError(f"devices {units[unit].id} and {dev.id} share unit id {unit} on "
                             f"{' '.join(key[1:])}: give one of them its own unit_id")
        if dev.transport == "rtu" and units:
            other = next(iter(units.values()))
            mine, theirs = _serial(dev, models), _serial(other, models)
            if mine != theirs:
                raise ValueError(
                    f"devices {other.id} and {dev.id} share serial port {dev.port} with different "
                    f"serial settings {theirs} and {mine}: a line has one")
        units[unit] = dev


def _serial(dev: DeviceConfig, models: dict[str, DeviceModel]) -> tuple[int, int, str, int]:
    """The serial settings a device runs at: the installer's override, else its model's."""
    s = models[dev.model].transport.serial
    return (dev.serial.baudrate or s.baudrate, s.bytesize, dev.serial.parity or s.parity,
            dev.serial.stopbits or s.stopbits)


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
