"""Vehicle gates: what the hub grants to plates (inside the signed permission snapshot), the
lanes an edge drives (camera + barrier), and what a lane decided (the `vehicle` event)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from wire._base import Name, UtcDatetime, WireModel
from wire.errors import Refused

# A plate as the hub stores it: Chinese provincial prefix (or letters) then letters and digits,
# upper case, without the separator dot or spaces (粤B·12345 -> 粤B12345).
_PLATE = re.compile(r"^[\u4e00-\u9fffA-Z0-9]{5,10}$")


def normalise_plate(text: str) -> str:
    """Upper case, without spaces, dots and dashes: how a plate is compared everywhere."""
    return re.sub(r"[\s·.\-_]", "", text).upper()


def _plate(value: str) -> str:
    plate = normalise_plate(value)
    if not _PLATE.match(plate):
        raise Refused("invalid.plate",
                      f"{value!r} is not a plate (5-10 letters, digits or Chinese characters)")
    return plate


Plate = Annotated[str, AfterValidator(_plate)]


class ResidentVehicle(WireModel):
    """A household's registered vehicle: opens the lanes it is allowed (all when `lanes` is
    empty) within its validity."""

    plate: Plate
    household_id: int = Field(ge=1)
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    lanes: list[Name] = Field(default_factory=list, max_length=64)


class VehiclePass(WireModel):
    """A visitor-car pass a resident issued: the visitor's plate, a window and a use count
    (an entry is a use; leaving is always allowed)."""

    id: int = Field(ge=1)
    plate: Plate
    household_id: int = Field(ge=1)
    valid_from: UtcDatetime
    valid_until: UtcDatetime
    max_uses: int = Field(ge=1, le=1000)
    uses: int = Field(default=0, ge=0, description="entries the hub has recorded so far")

    @model_validator(mode="after")
    def _window(self) -> VehiclePass:
        if self.valid_until <= self.valid_from:
            raise ValueError(f"vehicle pass {self.id}: valid_until is not after valid_from")
        return self


class BlockedPlate(WireModel):
    plate: Plate
    reason: str = Field(default="", max_length=200)


class VehicleSettings(WireModel):
    """The site's settings for its vehicle lanes."""

    temporary_entry: Literal["open", "guard"] = Field(
        default="open", description="an unknown car at an entry lane: open (recorded as "
        "temporary) or keep the barrier down for the guard")
    passback: Literal["off", "warn", "refuse"] = Field(
        default="warn", description="a plate entering twice without leaving")
    min_confidence: float = Field(
        default=0.85, ge=0, le=1, description="below it a reading never grants a household")
    over_spaces: Literal["temporary", "refuse"] = Field(
        default="temporary", description="a household's car entering while its parking "
        "spaces are all taken by its other cars: a temporary vehicle (by temporary_entry), "
        "or refused")


class HouseholdSpaces(WireModel):
    """How many of a household's cars may be inside at once: its parking spaces (owned or
    rented, valid now). A household with none listed has no limit."""

    household_id: int = Field(ge=1)
    spaces: int = Field(ge=1, le=1000)


class VehiclePermissions(WireModel):
    residents: list[ResidentVehicle] = Field(default_factory=list)
    passes: list[VehiclePass] = Field(default_factory=list)
    blocked: list[BlockedPlate] = Field(default_factory=list)
    spaces: list[HouseholdSpaces] = Field(default_factory=list)
    settings: VehicleSettings = Field(default_factory=VehicleSettings)


class CameraRelayBarrier(WireModel):
    """The barrier is wired to the camera's own relay: the push's answer raises it, and so
    does the answer to the camera's heartbeat (its "comet" poll, `POST /lpr/<lane>/heartbeat`)
    when a guard opened the lane. Set the camera's heartbeat to comet polling at its shortest
    interval; `comet_hold_s` > 0 holds each heartbeat's answer up to that long and answers at
    once when the guard opens (keep it below the camera's HTTP timeout)."""

    kind: Literal["camera_relay"] = "camera_relay"
    comet_hold_s: float = Field(
        default=0.0, ge=0, le=25, description="how long the edge may hold the camera's "
        "heartbeat before answering (0: answer at once; the open then waits for the next "
        "heartbeat)")


class ModbusBarrier(WireModel):
    """The barrier is wired to a relay output of a Modbus unit (an I/O module or a gate
    controller), over TCP (`host`) or on an RS-485 line of the edge (`transport` rtu, `line`:
    a modbus line, which the barrier's unit may share with polled devices at its own unit id;
    the edge sends the raise before their polls):
    the edge pulses `coil`; `up_input`, when wired (the barrier's up limit switch or the
    loop), tells it the barrier rose, so a rise with no decision behind it is reported as
    forced."""

    kind: Literal["modbus_coil"] = "modbus_coil"
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str | None = Field(default=None, min_length=1, max_length=200,
                             pattern=r"^[A-Za-z0-9][A-Za-z0-9.:-]*$", description="tcp")
    tcp_port: int = Field(default=502, ge=1, le=65535)
    line: Name | None = Field(default=None, description="rtu: the id of the edge's modbus line")
    # rtu: the line's port and serial settings, filled in from `line` at the edge
    port: str | None = Field(default=None, min_length=1, max_length=200)
    baudrate: int | None = Field(default=None, ge=1200, le=921600)
    parity: Literal["N", "E", "O"] | None = None
    stopbits: Literal[1, 2] | None = None
    unit_id: int = Field(default=1, ge=0, le=247)
    coil: int = Field(default=0, ge=0, le=65535, description="the relay that raises it")
    pulse_s: float = Field(default=1.0, gt=0, le=30, description="how long the relay holds")
    up_input: int | None = Field(default=None, ge=0, le=65535,
                                 description="discrete input: on while the barrier is up")
    forced_after_s: float = Field(
        default=5.0, gt=0, le=300, description="a rise this long after the last open the edge "
        "commanded (or with none) is forced")

    @model_validator(mode="after")
    def _where(self) -> ModbusBarrier:
        if self.transport == "tcp" and self.host is None:
            raise Refused("invalid.barrier_host", "a Modbus TCP barrier needs its host")
        if self.transport == "rtu" and self.line is None and self.port is None:
            raise Refused("invalid.barrier_line", "a Modbus RTU barrier needs its line")
        return self


Barrier = Annotated[CameraRelayBarrier | ModbusBarrier, Field(discriminator="kind")]


def _barrier_word(value: object) -> object:
    # the older configurations say `barrier: camera_relay`
    return {"kind": value} if isinstance(value, str) else value


class LaneConfig(WireModel):
    """A vehicle lane at this edge: the camera that pushes plates to the edge and the barrier.

    The camera authenticates with HTTP basic (`camera_user` and the secret as password) or
    with the secret as a bearer token; the edge holds only the secret's SHA-256."""

    id: Name
    name: str = Field(default="", max_length=200)
    direction: Literal["entry", "exit"]
    push_format: Name = Field(default="vzenith", description="the camera's push format")
    camera_user: str = Field(default="camera", min_length=1, max_length=64)
    camera_secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    barrier: Annotated[Barrier, BeforeValidator(_barrier_word)] = Field(
        default_factory=CameraRelayBarrier,
        description="what raises the barrier: the camera's relay (by the answer) or a "
        "Modbus coil the edge pulses")


VehicleResult = Literal["open", "refused", "held"]
VehicleReason = Literal[
    "resident", "visitor_pass", "temporary", "exit",
    "blocked", "expired", "not_yet_valid", "lane_not_allowed",
    "pass_expired", "pass_not_yet_valid", "pass_used_up",
    "anti_passback", "guard_open",
    # a resident car whose household's parking spaces are all taken by its other cars
    "no_space",
]
PlateFlag = Literal["near_miss", "ambiguous", "low_confidence"]


class VehicleData(WireModel):
    """kind `vehicle`: one decision at a lane."""

    lane: Name
    direction: Literal["entry", "exit"]
    plate: str = Field(min_length=1, max_length=16, description="as the camera read it")
    matched_plate: str | None = Field(
        default=None, max_length=16, description="the registered plate the decision used, "
        "when it differs from the reading (a near miss)")
    colour: str | None = Field(default=None, max_length=16)
    confidence: float = Field(ge=0, le=1)
    result: VehicleResult
    reason: VehicleReason
    flag: PlateFlag | None = None
    warning: Literal["anti_passback"] | None = None
    household_id: int | None = None
    pass_id: int | None = None
    pass_uses: int | None = Field(default=None, ge=0)
    blocked_reason: str | None = Field(default=None, max_length=200)
    snapshot_id: str | None = Field(default=None, max_length=36,
                                    description="the picture at the hub, if any")
    decision_us: int = Field(ge=0)
    offline: bool = Field(default=False, description="a reading the camera stored while it "
                          "could not push, reported late: recorded, not decided")


LaneEventType = Literal[
    # the barrier rose with no open decided (or commanded) within `forced_after_s`
    "forced",
    # the barrier's output could not be worked (Modbus unit unreachable, exception reply)
    "barrier_failed",
    # a guard opened the lane from the hub (`reason`, `by`; `plate` when for a held car)
    "guard_open",
]


class LaneData(WireModel):
    """kind `lane`: what happened at a lane's barrier, apart from the plate decisions."""

    lane: Name
    event: LaneEventType
    detail: str = Field(default="", max_length=500)
    plate: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    by: str | None = Field(default=None, max_length=64)
