"""The edge's installation, as the hub pushes it on `config` (QoS 1, retained, signed).

An edge's own file holds only its identity and bootstrap (site, edge, broker, data folder, the
hub's keys); what it drives comes from the hub: serial lines, doors with their readers, Modbus
devices and cameras. `ConfigContent` is what the hash covers; `ConfigSnapshot` adds the version
and hash, like the permission snapshot (wire.permissions), and is sealed on the downlink
(wire.signed) with the target site and edge inside what is signed.

These models check the structure (ids unique, references resolve, one reader per line and
address). What only the edge can know — do its serial ports exist, does its firmware know each
device model — is checked by the edge before it applies a configuration.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from wire._base import Name, UtcDatetime, WireModel
from wire.boards import BoardNotice
from wire.camera_config import CameraConfig, MotionConfig, TamperConfig, ZoneConfig
from wire.homesec import PanelSettings
from wire.meters import MeterConfig
from wire.vehicles import LaneConfig, ModbusBarrier

OSDP_BAUDRATE = 115200  # a reader's line speed when neither the reader nor its line says
SerialPath = str  # a serial device as the edge names it: /dev/ttyUSB0, /dev/serial/by-id/…
Parity = Literal["N", "E", "O"]


class SerialLine(WireModel):
    """An RS-485 bus on one serial port of the edge: OSDP readers, Modbus RTU units or DL/T 645
    meters share it and refer to it by `id`. Unset settings fall back to the protocol's (OSDP:
    115200 8N1; DL/T 645: 2400 8E1) or the device model's factory settings (Modbus)."""

    id: Name
    port: SerialPath = Field(min_length=1, max_length=200,
                             description="serial device of the line, e.g. /dev/ttyUSB0")
    protocol: Literal["osdp", "modbus", "dlt645", "cjt188"]
    baudrate: int | None = Field(default=None, ge=1200, le=921600)
    parity: Parity | None = None
    stopbits: Literal[1, 2] | None = None


class ReaderConfig(WireModel):
    """A door's OSDP reader, on a `line` (by id) or directly on a serial `port`."""

    port: SerialPath | None = Field(
        default=None, min_length=1, max_length=200,
        description="serial device of the RS-485 line, e.g. /dev/ttyUSB0 (or give `line`)")
    line: Name | None = Field(default=None, description="the id of an osdp line in `lines`")
    address: int = Field(default=101, ge=0, le=126, description="OSDP address of the reader")
    scbk: str = Field(description="secure channel base key, 32 hex digits, per device")
    baudrate: int = Field(default=OSDP_BAUDRATE, ge=1200, le=921600,
                          description="with `port`; on a line, the line's baudrate wins")

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

    @model_validator(mode="after")
    def _where(self) -> ReaderConfig:
        if (self.port is None) == (self.line is None):
            raise ValueError("a reader needs exactly one of port and line")
        return self

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.scbk)

    @property
    def serial_port(self) -> str:
        """The port the reader's bus opens (after ConfigContent.resolved(), also on a line)."""
        if self.port is None:
            raise ValueError(f"reader on line {self.line}: resolve the installation first")
        return self.port


class DoorConfig(WireModel):
    id: Name
    name: str = Field(default="", max_length=200)
    reader: ReaderConfig
    relay_output: int = Field(default=0, ge=0, le=15, description="controller output driving the lock")
    contact_input: int = Field(default=0, ge=0, le=15, description="door contact input (active = open)")
    rex_input: int | None = Field(default=1, ge=0, le=15, description="request-to-exit button input")
    unlock_s: float = Field(default=5.0, gt=0, le=300, description="unlock pulse length")
    held_open_s: float = Field(default=30.0, gt=0, le=3600, description="open longer raises held_open")
    fail_safe_egress: bool = Field(default=False, description="released by the edge on a fire alarm")
    elevator: Name | None = Field(default=None, description="set on a car reader: the elevator's device id")
    floor_enable_s: float = Field(default=10.0, gt=0, le=600, description="how long a card enables floors")
    # left out of the JSON when unset: configurations hashed before it existed keep their hash
    floors: list[int] | None = Field(
        default=None, max_length=200, exclude_if=lambda v: v is None,
        description="set on a car reader: the floors its lift stops at (the hub's floor map, "
        "1 the ground floor, -1 B1); a grant enables only these. Unset: every floor the "
        "controller's model serves")

    @model_validator(mode="after")
    def _floors(self) -> DoorConfig:
        if self.floors is not None:
            if self.elevator is None:
                raise ValueError("floors: only a car reader (with elevator) has floors")
            if 0 in self.floors:
                raise ValueError("floors: there is no floor 0 (1 is the ground floor, -1 B1)")
        return self


class SerialOverride(WireModel):
    """The line settings as installed, when they differ from the model's factory settings."""

    baudrate: int | None = Field(default=None, ge=1200, le=115200)
    parity: Parity | None = None
    stopbits: Literal[1, 2] | None = None


class DeviceConfig(WireModel):
    """A Modbus device (elevator controller, fire panel, pressure sensor) the edge polls.

    `model` names a file in firmware-configs/; the edge checks it knows the model (and that the
    model offers the transport) before it applies a configuration."""

    id: Name
    name: str = Field(default="", max_length=200)
    model: str = Field(min_length=1, max_length=64,
                       description="a model in firmware-configs/, e.g. elevator-vvvf-a")
    transport: Literal["rtu", "tcp"]
    port: SerialPath | None = Field(default=None, min_length=1, max_length=200,
                                    description="serial device of the RS-485 line (rtu)")
    line: Name | None = Field(default=None, description="rtu: the id of a modbus line in `lines`")
    host: str | None = Field(default=None, max_length=253,
                             description="address of the device or gateway (tcp)")
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
    security: PanelSettings | None = Field(
        default=None, description="an alarm panel: its unit, delays and arm schedule")

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        if self.transport == "rtu" and (self.port is None) == (self.line is None):
            raise ValueError("an rtu device needs exactly one of port and line")
        if self.transport == "tcp" and not self.host:
            raise ValueError("a tcp device needs host")
        if self.transport == "tcp" and self.line is not None:
            raise ValueError("a tcp device is on no serial line")
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s is below backoff_min_s")
        return self


def check_installation(lines: Iterable[SerialLine], doors: Iterable[DoorConfig],
                       devices: Iterable[DeviceConfig], cameras: Iterable[CameraConfig]) -> None:
    """Raise ValueError naming the first inconsistency: ids repeated, a reference to nothing,
    two readers at one address of a line, a line used by the wrong protocol."""
    lines, doors, devices, cameras = list(lines), list(doors), list(devices), list(cameras)
    by_line = {line.id: line for line in lines}
    if len(by_line) != len(lines):
        raise ValueError(f"line ids repeated: {', '.join(_repeated(x.id for x in lines))}")
    ports = [line.port for line in lines]
    if len(set(ports)) != len(ports):
        raise ValueError(f"two lines on one serial port: {', '.join(_repeated(ports))}")
    door_ids = [d.id for d in doors]
    if len(set(door_ids)) != len(door_ids):
        raise ValueError(f"door ids repeated: {', '.join(_repeated(door_ids))}")
    protocol_of_port: dict[str, tuple[str, str]] = {  # port -> (protocol, who uses it)
        line.port: (line.protocol, f"line {line.id}") for line in lines}
    readers: dict[tuple[str, int], str] = {}
    for door in doors:
        reader = door.reader
        if reader.line is not None:
            line = by_line.get(reader.line)
            if line is None:
                raise ValueError(f"door {door.id}: line {reader.line!r} is not a line here")
            if line.protocol != "osdp":
                raise ValueError(f"door {door.id}: line {line.id} is a {line.protocol} line, "
                                 "a reader needs an osdp line")
        port = _port_of(reader.port, reader.line, by_line)
        _claim(protocol_of_port, port, "osdp", f"door {door.id}")
        where = reader.line or port
        if (port, reader.address) in readers:
            raise ValueError(f"two doors share one reader (same port and address): "
                             f"{readers[(port, reader.address)]} and {door.id} at OSDP address "
                             f"{reader.address} on {where}")
        readers[(port, reader.address)] = door.id
    device_ids = [d.id for d in devices]
    if len(set(device_ids)) != len(device_ids):
        raise ValueError(f"device ids repeated: {', '.join(_repeated(device_ids))}")
    for device in devices:
        if device.line is not None:
            line = by_line.get(device.line)
            if line is None:
                raise ValueError(f"device {device.id}: line {device.line!r} is not a line here")
            if line.protocol != "modbus":
                raise ValueError(f"device {device.id}: line {line.id} is an {line.protocol} "
                                 "line, a Modbus device needs a modbus line")
        if device.transport == "rtu":
            port = _port_of(device.port, device.line, by_line)
            _claim(protocol_of_port, port, "modbus", f"device {device.id}")
    for door in doors:
        if door.elevator is not None and door.elevator not in device_ids:
            raise ValueError(f"door {door.id}: elevator {door.elevator!r} is not a device")
    camera_ids = [c.id for c in cameras]
    if len(set(camera_ids)) != len(camera_ids):
        raise ValueError(f"camera ids repeated: {', '.join(_repeated(camera_ids))}")
    for camera in cameras:
        if camera.id in device_ids or camera.id in door_ids:
            raise ValueError(f"camera {camera.id}: the id is taken by a device or door")
        if camera.door is not None and camera.door not in door_ids:
            raise ValueError(f"camera {camera.id}: door {camera.door!r} is not a door here")


def check_meters(lines: Iterable[SerialLine], meters: Iterable[MeterConfig],
                 taken: Iterable[str]) -> None:
    """Meters hang on dlt645 lines, at distinct addresses per line, with ids of their own
    (`taken`: the ids of doors, devices and cameras)."""
    by_line = {line.id: line for line in lines}
    taken = set(taken)
    ids: set[str] = set()
    addresses: dict[tuple[str, str], str] = {}
    for meter in meters:
        if meter.id in ids or meter.id in taken:
            raise ValueError(f"meter {meter.id}: the id is taken by another meter or device")
        ids.add(meter.id)
        line = by_line.get(meter.line)
        if line is None:
            raise ValueError(f"meter {meter.id}: line {meter.line!r} is not a line here")
        if line.protocol not in ("dlt645", "cjt188"):
            raise ValueError(f"meter {meter.id}: line {line.id} is a {line.protocol} line, a "
                             "meter needs a dlt645 or cjt188 line")
        digits = 14 if line.protocol == "cjt188" else 12
        if len(meter.address) != digits:
            raise ValueError(f"meter {meter.id}: a {line.protocol} meter's address is {digits} "
                             f"digits, not {meter.address!r}")
        kinds = ("water", "hot_water") if line.protocol == "cjt188" else ("electricity",)
        if meter.kind is not None and meter.kind not in kinds:
            raise ValueError(f"meter {meter.id}: a {line.protocol} line reads "
                             f"{' or '.join(kinds)} meters, not {meter.kind}")
        other = addresses.setdefault((line.id, meter.address), meter.id)
        if other != meter.id:
            raise ValueError(f"meters {other} and {meter.id} share address {meter.address} on "
                             f"line {line.id}")


def _repeated(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)


def check_barrier_lines(lines: Iterable[SerialLine], lanes: Iterable[LaneConfig],
                        devices: Iterable[DeviceConfig]) -> None:
    """A lane's RTU barrier names a modbus line here; its unit shares that bus with the
    line's polled devices and other barriers, at a unit id none of them has (a device without
    its own unit id has its model's, which the edge checks)."""
    by_line = {line.id: line for line in lines}
    taken: dict[tuple[str, int], str] = {
        (d.line, d.unit_id): f"device {d.id}" for d in devices
        if d.line is not None and d.unit_id is not None}
    for lane in lanes:
        barrier = lane.barrier
        if not isinstance(barrier, ModbusBarrier) or barrier.line is None:
            continue
        line = by_line.get(barrier.line)
        if line is None:
            raise ValueError(f"lane {lane.id}: line {barrier.line!r} is not a line here")
        if line.protocol != "modbus":
            raise ValueError(f"lane {lane.id}: line {line.id} is a {line.protocol} line, a "
                             "barrier needs a modbus line")
        other = taken.setdefault((line.id, barrier.unit_id), f"lane {lane.id}")
        if other != f"lane {lane.id}":
            raise ValueError(f"lane {lane.id}: line {line.id} already has {other} at unit id "
                             f"{barrier.unit_id}")


def _port_of(port: str | None, line: str | None, lines: dict[str, SerialLine]) -> str:
    if line is not None:
        return lines[line].port
    assert port is not None  # the item's own validator asks for one of them
    return port


def _claim(protocols: dict[str, tuple[str, str]], port: str, protocol: str, who: str) -> None:
    held = protocols.setdefault(port, (protocol, who))
    if held[0] != protocol:
        raise ValueError(f"{who} uses serial port {port} for {protocol}, but {held[1]} uses it "
                         f"for {held[0]}: one protocol per RS-485 line")


class ConfigContent(WireModel):
    """What an edge drives; its canonical JSON is what the hash covers."""

    site: Name
    edge: Name
    lines: list[SerialLine] = Field(default_factory=list)
    doors: list[DoorConfig] = Field(default_factory=list)
    devices: list[DeviceConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)
    lanes: list[LaneConfig] = Field(default_factory=list, max_length=32,
                                    description="vehicle lanes: plate camera + barrier")
    meters: list[MeterConfig] = Field(default_factory=list, max_length=1000,
                                      description="DL/T 645 meters on dlt645 lines")
    board_notices: list[BoardNotice] = Field(default_factory=list, max_length=200,
                                             description="what the edge's LED boards rotate")
    board_emergency: Literal["fire"] | None = Field(
        default=None, description="a fire alarm open elsewhere on the site: the edge's LED "
        "boards show the fire instruction until a configuration without it")

    @model_validator(mode="after")
    def _consistent(self) -> ConfigContent:
        check_installation(self.lines, self.doors, self.devices, self.cameras)
        check_meters(self.lines, self.meters, [*(d.id for d in self.doors),
                                               *(d.id for d in self.devices),
                                               *(c.id for c in self.cameras)])
        lane_ids = [lane.id for lane in self.lanes]
        if len(set(lane_ids)) != len(lane_ids):
            raise ValueError("two lanes share an id")
        check_barrier_lines(self.lines, self.lanes, self.devices)
        return self

    def content_json(self) -> str:
        """The canonical JSON of the content (not version or time): fields in declaration order,
        compact; equal content gives equal text when the lists come in the same order (the
        hub sorts them by id)."""
        return self.model_dump_json(include=_CONTENT_KEYS)

    def content_hash(self) -> str:
        """SHA-256 over `content_json()`."""
        return hashlib.sha256(self.content_json().encode()).hexdigest()

    def resolved(self) -> ConfigContent:
        """The same installation with every line reference resolved: each reader and rtu device
        carries its line's port and settings (the drivers speak ports, not line ids)."""
        lines = {line.id: line for line in self.lines}
        doors = []
        for door in self.doors:
            line = lines.get(door.reader.line) if door.reader.line else None
            if line is not None:
                reader = door.reader.model_copy(update={
                    "port": line.port, "baudrate": line.baudrate or door.reader.baudrate})
                door = door.model_copy(update={"reader": reader})
            doors.append(door)
        devices = []
        for device in self.devices:
            line = lines.get(device.line) if device.line else None
            if line is not None:
                own = device.serial
                serial = SerialOverride(baudrate=own.baudrate or line.baudrate,
                                        parity=own.parity or line.parity,
                                        stopbits=own.stopbits or line.stopbits)
                device = device.model_copy(update={"port": line.port, "serial": serial})
            devices.append(device)
        lanes = []
        for lane in self.lanes:
            barrier = lane.barrier
            line = lines.get(barrier.line) if isinstance(barrier, ModbusBarrier) and \
                barrier.line else None
            if line is not None:
                lane = lane.model_copy(update={"barrier": barrier.model_copy(update={
                    "port": line.port, "baudrate": line.baudrate, "parity": line.parity,
                    "stopbits": line.stopbits})})
            lanes.append(lane)
        return self.model_copy(update={"doors": doors, "devices": devices, "lanes": lanes})


_CONTENT_KEYS = set(ConfigContent.model_fields)


class ConfigSnapshot(ConfigContent):
    """The configuration as published: versions only grow per edge; the edge runs one at a
    time, reports its version in its state, and refuses an older one."""

    version: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="content_hash() of the content")
    issued_at: UtcDatetime

    @model_validator(mode="after")
    def _hash_matches(self) -> ConfigSnapshot:
        if self.hash != self.content_hash():
            raise ValueError("hash does not match the configuration's content")
        return self

    @classmethod
    def build(cls, content: ConfigContent, version: int, issued_at: datetime) -> ConfigSnapshot:
        """Seal validated content with its version and hash."""
        fields = {name: getattr(content, name) for name in ConfigContent.model_fields}
        return cls.model_construct(
            **fields, version=version, hash=content.content_hash(), issued_at=issued_at)

    def content(self) -> ConfigContent:
        """The content alone (what an edge stores and compares)."""
        return ConfigContent.model_construct(
            **{name: getattr(self, name) for name in ConfigContent.model_fields})

    def payload(self) -> bytes:
        """The JSON body the hub signs and publishes."""
        tail = json.dumps({"version": self.version, "hash": self.hash,
                           "issued_at": self.issued_at.astimezone(UTC).isoformat()
                           .replace("+00:00", "Z")}, separators=(",", ":"))
        return (self.content_json()[:-1] + "," + tail[1:]).encode()


__all__ = [
    "OSDP_BAUDRATE", "BoardNotice", "CameraConfig", "ConfigContent", "ConfigSnapshot",
    "DeviceConfig", "DoorConfig", "MeterConfig", "MotionConfig", "ReaderConfig", "SerialLine", "SerialOverride",
    "TamperConfig", "ZoneConfig", "check_installation", "check_meters",
]
