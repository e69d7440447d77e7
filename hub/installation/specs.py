"""What an installer states about each part of the installation: the API's request bodies and
the demo seed's input alike. Shape and ranges are checked here; what needs the database (the
line is on the door's edge, the unit id is free) in the service modules beside."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from hub.texts.validation import Refusal, field_word
from wire.floors import FloorIn, floor_label
from wire.vehicles import Barrier, CameraRelayBarrier

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                            description="letters, digits and _ . -: the name on the wire")]
Label = Annotated[str, Field(max_length=200, description="what people read")]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
SiteId = Annotated[str, Field(min_length=1, max_length=64)]
Baudrate = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
Protocol = Literal["osdp", "modbus", "dlt645", "cjt188"]
Transport = Literal["rtu", "tcp"]
DoorMode = Literal["normal", "locked_down", "unlocked_on_schedule"]
Input = Annotated[int, Field(ge=0, le=15, description="controller input number")]
_PORT = re.compile(r"^(/dev/[A-Za-z0-9_./-]+|COM[0-9]{1,3}|[A-Za-z]:[\\/].+)$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]{0,198}[A-Za-z0-9])?$")


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the fields an update may not change: the part's identity on the wire and where it is
    FIXED: ClassVar[tuple[str, ...]] = ()


class EdgeSpec(Spec):
    """An edge agent: one per building (or per part of a big one)."""

    FIXED = ("site_id", "name")
    site_id: SiteId
    name: Name = Field(description="the edge's identity on the broker (lintel/v1/{site}/{name})")
    label: Label = ""
    building_id: RowId | None = Field(default=None, description="the building it serves")


class LineSpec(Spec):
    """A serial bus (RS-485) of an edge: OSDP readers, Modbus units or DL/T 645 meters (one
    protocol per line)."""

    FIXED = ("site_id", "edge_id")
    edge_id: RowId
    site_id: SiteId | None = Field(default=None, description="if given, must be the edge's site")
    name: Name
    label: Label = ""
    port: str = Field(min_length=1, max_length=200,
                      description="the edge's serial device, e.g. /dev/ttyUSB0 or /dev/ttyS1")
    baudrate: Baudrate = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    protocol: Protocol

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        if not _PORT.match(value):
            raise Refusal("invalid.serial_port", "a serial device such as /dev/ttyUSB0 or COM3",
                          example="/dev/ttyUSB0, COM3")
        return value


class DoorSpec(Spec):
    """A door of an edge with its reader (an OSDP address on a line) and wiring."""

    FIXED = ("site_id", "edge_id", "name")
    edge_id: RowId
    site_id: SiteId | None = Field(default=None, description="if given, must be the edge's site")
    name: Name = Field(description="the door's id in events and permissions, e.g. B1-main")
    label: Label = ""
    line_id: RowId | None = Field(default=None, description="the reader's line (protocol osdp)")
    reader_address: int | None = Field(default=None, ge=0, le=126,
                                       description="the reader's OSDP address on its line")
    reader_key: str | None = Field(
        default=None, description="the reader's secure-channel key, 32 hex digits; null: not "
        "commissioned yet (the reader speaks the install key)")
    relay_output: Input = Field(default=0, description="controller output driving the lock")
    contact_input: Input | None = Field(default=0, description="door contact (active = open)")
    rex_input: Input | None = Field(default=1, description="request-to-exit button")
    fail_safe_egress: bool = Field(default=False, description="released on a fire alarm")
    unlock_s: float = Field(default=5.0, gt=0, le=300, description="unlock pulse length")
    held_open_s: float = Field(default=30.0, gt=0, le=3600,
                               description="open longer than this raises held_open")
    lift_id: RowId | None = Field(default=None, description="a car reader: its lift")
    mode: DoorMode = "normal"
    unlock_schedule_id: RowId | None = Field(
        default=None, description="mode unlocked_on_schedule: released during this schedule")
    pin_required: bool = Field(
        default=False, description="card + PIN: a granted card opens only after its holder's PIN")

    @field_validator("reader_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9A-Fa-f]{32}", value):
            raise Refusal("invalid.hex_key", "32 hexadecimal digits (a 16-byte key)")
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _reader(self) -> DoorSpec:
        if (self.line_id is None) != (self.reader_address is None):
            missing = "reader_address" if self.reader_address is None else "line_id"
            raise Refusal("invalid.reader_both",
                          f"{missing}: a reader needs both line_id and reader_address")
        if self.reader_key is not None and self.line_id is None:
            raise Refusal("invalid.key_needs_reader",
                          "reader_key: needs a reader (line_id and reader_address)")
        if self.mode == "unlocked_on_schedule" and self.unlock_schedule_id is None:
            raise Refusal("invalid.schedule_needed",
                          "unlock_schedule_id: mode 'unlocked_on_schedule' needs one")
        if self.mode != "unlocked_on_schedule" and self.unlock_schedule_id is not None:
            raise Refusal("invalid.schedule_only",
                          f"unlock_schedule_id: only with mode 'unlocked_on_schedule', not "
                             f"{self.mode!r}")
        return self


class DeviceSpec(Spec):
    """A Modbus device an edge polls: a lift controller, fire panel or pressure sensor."""

    FIXED = ("site_id", "edge_id", "name")
    edge_id: RowId
    site_id: SiteId | None = Field(default=None, description="if given, must be the edge's site")
    name: Name = Field(description="the device's id in events, e.g. B1-lift-1")
    label: Label = ""
    model: str = Field(min_length=1, max_length=64, description="a model of firmware-configs/")
    transport: Transport
    line_id: RowId | None = Field(default=None, description="rtu: the line (protocol modbus)")
    unit_id: int | None = Field(default=None, ge=1, le=247,
                                description="Modbus unit id; default: the model's factory one")
    host: str | None = Field(default=None, description="tcp: the device's or gateway's address")
    tcp_port: int | None = Field(default=None, ge=1, le=65535, description="tcp; default 502")
    poll_interval_s: float = Field(default=1.0, ge=0.05, le=3600)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise Refusal("invalid.host", "a host name or IP address")
        return value

    @model_validator(mode="after")
    def _reach(self) -> DeviceSpec:
        if self.transport == "rtu":
            if self.line_id is None:
                raise Refusal("invalid.rtu_line", "line_id: an rtu device needs its line")
            if self.host is not None or self.tcp_port is not None:
                raise Refusal("invalid.tcp_only", "host: host and tcp_port are for tcp devices")
        else:
            if self.host is None:
                raise Refusal("invalid.tcp_host", "host: a tcp device needs its address")
            if self.line_id is not None:
                raise Refusal("invalid.rtu_only", "line_id: a line is for rtu devices")
        return self


Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class ZoneSpec(Spec):
    """A motion zone: a polygon in fractions of the picture (x then y)."""

    name: Name
    polygon: list[Point] = Field(min_length=3, max_length=64)
    cooldown_s: float = Field(default=30.0, ge=0, le=86400)
    min_area: float = Field(default=0.03, gt=0, le=1)


class CameraSpec(Spec):
    FIXED = ("site_id", "edge_id", "name")
    edge_id: RowId
    site_id: SiteId | None = Field(default=None, description="if given, must be the edge's site")
    name: Name = Field(description="the camera's id in events")
    label: Label = ""
    model: str = Field(default="ip-camera", min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=500,
                        description="rtsp://…, http(s)://… (MJPEG) or device:N")
    door_id: RowId | None = Field(default=None, description="reads QR codes for this door")
    zones: list[ZoneSpec] = Field(default_factory=list, max_length=16)
    floors: list[FloorIn] = Field(
        default_factory=list, max_length=200,
        description="the floors of the edge's building whose corridor this camera sees: the "
                    "alarm panels of those floors' units attach its snapshot to their alarms")

    @field_validator("floors")
    @classmethod
    def _floors(cls, floors: list[int]) -> list[int]:
        return sorted(set(floors))

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not re.match(r"^(rtsp|rtsps|http|https)://\S+$|^device:[0-9]{1,2}$", value):
            raise Refusal("invalid.camera_source", "rtsp://…, http(s)://… or device:N",
                          forms="rtsp://…, http(s)://…, device:N")
        return value


class FloorSpec(Spec):
    """A stop of the lift: the building's floor number (1 the ground floor, -1 B1, no 0;
    "B1" or "12F" accepted too) and the label on the button (default: B1, 1, 2 …)."""

    floor: FloorIn
    label: str = Field(default="", max_length=16, description="what the button says")

    @model_validator(mode="after")
    def _label(self) -> FloorSpec:
        if not self.label:
            self.label = floor_label(self.floor)
        return self


class LiftSpec(Spec):
    """A lift: its controller (an elevator device of the same edge) and floor map; car
    readers are doors with `lift_id`."""

    FIXED = ("site_id",)
    site_id: SiteId | None = Field(default=None, description="if given, must be the device's site")
    name: Name
    label: Label = ""
    device_id: RowId = Field(description="the lift's Modbus controller (a device)")
    building_id: RowId | None = None
    floor_enable_s: float = Field(default=10.0, gt=0, le=600,
                                  description="how long a grant enables floors")
    floors: list[FloorSpec] = Field(min_length=1, max_length=200)

    @field_validator("floors")
    @classmethod
    def _unique(cls, floors: list[FloorSpec]) -> list[FloorSpec]:
        for what in ("floor", "label"):
            seen = [getattr(f, what) for f in floors]
            twice = sorted({str(v) for v in seen if seen.count(v) > 1})
            if twice:
                raise Refusal("invalid.repeated", f"{what} repeated: {', '.join(twice)}",
                              what=field_word(what), values=", ".join(twice))
        return sorted(floors, key=lambda f: f.floor)


class LaneSpec(Spec):
    """A vehicle lane of an edge: its plate camera pushes to the edge (`POST /lpr/{name}` on
    the edge's lane port) with `camera_user` and `camera_secret`; the barrier rises by the
    camera's relay (the answer) or a Modbus coil the edge pulses."""

    FIXED = ("site_id", "edge_id", "name")
    edge_id: RowId
    site_id: SiteId | None = Field(default=None, description="if given, must be the edge's site")
    name: Name = Field(description="the lane's id in events and a vehicle's allowed lanes")
    label: Label = ""
    direction: Literal["entry", "exit"]
    push_format: Name = Field(default="vzenith", description="the camera's push format")
    camera_user: str = Field(default="camera", min_length=1, max_length=64,
                             pattern=r"^[^:\s]+$", description="the camera's HTTP basic user")
    camera_secret: str | None = Field(
        default=None, min_length=8, max_length=128, description="the camera's password (set "
        "in the camera as well); the hub and the edge keep only its SHA-256; required to "
        "install, omitted in a change to keep it")
    barrier: Barrier = Field(default_factory=CameraRelayBarrier)


S = TypeVar("S", bound=Spec)


def change_model(spec: type[Spec], name: str) -> type[BaseModel]:
    """The body of an update: every field of `spec` but its fixed ones, all optional; the
    service checks the merged result against `spec` itself."""
    fields: dict[str, Any] = {}
    for field_name, info in spec.model_fields.items():
        if field_name in spec.FIXED:
            continue
        fields[field_name] = (info.annotation | None,  # type: ignore[operator]
                              Field(default=None, description=info.description))
    doc = f"Change a {spec.__name__.removesuffix('Spec').lower()}: only the fields given."
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"),
                                          __doc__=doc, **fields)
    return model


EdgeChange = change_model(EdgeSpec, "EdgeChange")
LineChange = change_model(LineSpec, "LineChange")
DoorChange = change_model(DoorSpec, "DoorChange")
DeviceChange = change_model(DeviceSpec, "DeviceChange")
CameraChange = change_model(CameraSpec, "CameraChange")
LiftChange = change_model(LiftSpec, "LiftChange")
LaneChange = change_model(LaneSpec, "LaneChange")


def merged(spec: type[S], current: dict[str, Any], changes: BaseModel) -> S:
    """`current` with `changes` applied, validated as a whole (errors name the field)."""
    return spec.model_validate({**current, **changes.model_dump(exclude_unset=True)})


__all__ = [
    "CameraChange", "CameraSpec", "DeviceChange", "DeviceSpec", "DoorChange", "DoorSpec",
    "EdgeChange", "EdgeSpec", "FloorSpec", "LaneChange", "LaneSpec", "LiftChange", "LiftSpec",
    "LineChange", "LineSpec",
    "Spec", "ZoneSpec", "change_model", "merged",
]
