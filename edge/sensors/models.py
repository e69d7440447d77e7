"""The schema of a `firmware-configs/` file: one device model's Modbus map, as frozen data.

Every model forbids unknown keys, so a misspelt key is refused rather than ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wire.homesec import ZoneKind

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Table = Literal["coil", "discrete_input", "holding", "input"]
RegisterType = Literal["bool", "uint16", "int16", "uint32", "int32"]
DeviceType = Literal["elevator", "fire_panel", "pressure_sensor", "water_meter", "alarm_panel",
                     "led_board"]
Severity = Literal["info", "minor", "major", "critical"]

WORDS = {"bool": 1, "uint16": 1, "int16": 1, "uint32": 2, "int32": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SerialSettings(_Strict):
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class TransportSettings(_Strict):
    kinds: list[Literal["rtu", "tcp"]] = Field(min_length=1, description="transports the device offers")
    serial: SerialSettings = SerialSettings()
    tcp_port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=1, le=247, description="factory Modbus slave address")
    timeout_s: float = Field(default=0.5, gt=0, le=10, description="reply timeout the device needs")


class Register(_Strict):
    """One value in the map; `count` > 1 makes a block named `name_1` … `name_n`."""

    name: Name
    table: Table
    address: int = Field(ge=0, le=65535, description="zero-based protocol address")
    type: RegisterType = "uint16"
    count: int = Field(default=1, ge=1, le=64)
    scale: float = Field(default=1.0, description="engineering value = raw * scale + offset")
    offset: float = 0.0
    unit: str | None = Field(default=None, max_length=16)
    states: dict[int, str] | None = Field(default=None, description="raw value -> state name")
    writable: bool = False
    telemetry: bool = Field(default=True, description="reported as a telemetry reading")

    @model_validator(mode="after")
    def _fits(self) -> Register:
        bit_table = self.table in ("coil", "discrete_input")
        if bit_table != (self.type == "bool"):
            raise ValueError(f"type {self.type} does not fit table {self.table}")
        if self.writable and self.table not in ("coil", "holding"):
            raise ValueError(f"a {self.table} cannot be written")
        if self.address + self.count * WORDS[self.type] - 1 > 65535:
            raise ValueError("the block runs past address 65535")
        return self

    def names(self) -> list[str]:
        return [self.name] if self.count == 1 else [f"{self.name}_{i}" for i in range(1, self.count + 1)]


class FaultCode(_Strict):
    """A fault, active while its register matches exactly one condition."""

    code: str = Field(min_length=1, max_length=32)
    text_en: str = Field(min_length=1, max_length=500)
    text_zh: str = Field(min_length=1, max_length=500)
    severity: Severity
    skill: str = Field(min_length=1, max_length=64, description="technician skill the repair needs")
    point: str = Field(alias="register", description="a register name (a block element as name_i)")
    equals: int | None = Field(default=None, description="active when the raw value equals this")
    bit: int | None = Field(default=None, ge=0, le=31, description="active when this bit is set")
    below: float | None = Field(default=None, description="active when the value is below this")
    above: float | None = Field(default=None, description="active when the value is above this")

    @model_validator(mode="after")
    def _one_condition(self) -> FaultCode:
        given = [k for k in ("equals", "bit", "below", "above") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"fault {self.code} needs exactly one of equals, bit, below, above")
        return self


class WriteTarget(_Strict):
    point: str = Field(alias="register", description="a writable register or block")
    value: int = Field(description="raw value written to act")
    normal: int = Field(default=0, description="raw value written to restore normal service")


class FloorInhibit(_Strict):
    """A polled state in which the car must not take card calls (fire recall, out of service)."""

    point: str = Field(alias="register", description="a register the edge polls")
    values: list[int] = Field(min_length=1, description="raw values that inhibit floor access")


class FloorAccess(_Strict):
    """How a car's floor buttons are enabled: one coil per floor, or bits of a register.

    Floors are numbered as the building counts them: 1 the ground floor, -1 the first basement
    (B1), with no floor 0; coil/bit 0 is `lowest_floor`, and the bits go up one per floor the
    car serves, skipping 0."""

    point: str = Field(alias="register", description="a writable coil block or register")
    lowest_floor: int = Field(default=1, ge=-9, le=200, description="floor of coil/bit 0")
    floors: int = Field(ge=1, le=64, description="how many floors the car serves")
    inhibit: list[FloorInhibit] = Field(
        default_factory=list,
        description="states in which no floor is enabled, whatever the card (fire recall, "
        "inspection, out of service)")

    @model_validator(mode="after")
    def _no_floor_zero(self) -> FloorAccess:
        if self.lowest_floor == 0:
            raise ValueError("lowest_floor 0: floors are numbered 1 up and -1 down (B1), no 0")
        return self

    def bit(self, floor: int) -> int | None:
        """The coil/bit of `floor`, or None when the car does not serve it."""
        if floor == 0:
            return None
        index = floor - self.lowest_floor
        if self.lowest_floor < 0 < floor:
            index -= 1  # there is no floor 0 between B1 and 1
        return index if 0 <= index < self.floors else None

    def floor(self, bit: int) -> int:
        """The floor of coil/bit `bit` (the inverse of `bit`)."""
        floor = self.lowest_floor + bit
        return floor + 1 if self.lowest_floor < 0 <= floor else floor


class FireZones(_Strict):
    point: str = Field(alias="register", description="the zone-state block (one register per zone)")
    alarm_states: list[int] = Field(min_length=1, description="raw zone states meaning fire alarm")


class SecurityZone(_Strict):
    """One zone of an alarm panel as the factory kit wires it."""

    zone: int = Field(ge=1, le=64, description="numbered from 1: element zone_n of the block")
    kind: ZoneKind
    entry: bool = Field(default=False, description="a door contact whose opening starts the "
                        "entry delay instead of an instant alarm")
    name_en: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _entry_is_a_door(self) -> SecurityZone:
        if self.entry and self.kind != "door_contact":
            raise ValueError(f"zone {self.zone}: only a door_contact can be the entry")
        return self


class SecurityZones(_Strict):
    point: str = Field(alias="register", description="the zone-state block (one register per zone)")
    normal_states: list[int] = Field(default_factory=lambda: [0], min_length=1,
                                     description="raw states: closed / quiet (else a fault)")
    active_states: list[int] = Field(min_length=1, description="raw states: open / triggered")
    tamper_states: list[int] = Field(default_factory=list, description="raw states: zone tamper")
    zones: list[SecurityZone] = Field(min_length=1)


class DeviceModel(_Strict):
    model: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    device_type: DeviceType
    description: str = Field(min_length=1, max_length=500)
    source: str = Field(min_length=1, max_length=2000, description="where the map comes from")
    transport: TransportSettings
    registers: list[Register] = Field(min_length=1)
    faults: list[FaultCode] = Field(default_factory=list)
    recall: WriteTarget | None = Field(default=None, description="fire recall command (elevators)")
    floor_access: FloorAccess | None = None
    fire_zones: FireZones | None = None
    security_zones: SecurityZones | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DeviceModel:
        names: dict[str, Register] = {}
        for reg in self.registers:
            for name in reg.names():
                if name in names:
                    raise ValueError(f"register name {name} repeated")
                names[name] = reg
        codes = [f.code for f in self.faults]
        if len(set(codes)) != len(codes):
            raise ValueError("fault codes repeated")
        for fault in self.faults:
            if fault.point not in names:
                raise ValueError(f"fault {fault.code} names unknown register {fault.point!r}")
        blocks = {r.name: r for r in self.registers}
        for what, target in (("recall", self.recall), ("floor_access", self.floor_access)):
            if target is not None:
                written = blocks.get(target.point) or names.get(target.point)
                if written is None or not written.writable:
                    raise ValueError(f"{what}.register {target.point!r} is not a writable register")
        if self.floor_access is not None:
            for inhibit in self.floor_access.inhibit:
                if inhibit.point not in names:
                    raise ValueError(f"floor_access.inhibit names unknown register {inhibit.point!r}")
            reg = self.register(self.floor_access.point)
            room = reg.count if reg.table == "coil" else 16 * WORDS[reg.type]
            if self.floor_access.floors > room:
                raise ValueError(f"floor_access.floors {self.floor_access.floors} > {room} the register holds")
        if self.fire_zones is not None and self.fire_zones.point not in {r.name for r in self.registers}:
            raise ValueError(f"fire_zones.register {self.fire_zones.point!r} is not a register block")
        if self.security_zones is not None:
            sz = self.security_zones
            block = next((r for r in self.registers if r.name == sz.point), None)
            if block is None:
                raise ValueError(f"security_zones.register {sz.point!r} is not a register block")
            numbers = [z.zone for z in sz.zones]
            if len(set(numbers)) != len(numbers) or max(numbers) > block.count:
                raise ValueError(f"security_zones: zones must be distinct and within 1..{block.count}")
            if sum(z.entry for z in sz.zones) > 1:
                raise ValueError("security_zones: at most one entry zone")
        if self.device_type == "alarm_panel" and self.security_zones is None:
            raise ValueError("an alarm panel model needs security_zones")
        if self.device_type == "elevator" and self.recall is None:
            raise ValueError("an elevator model needs a recall command")
        if self.device_type == "fire_panel" and self.fire_zones is None:
            raise ValueError("a fire panel model needs fire_zones")
        return self

    def register(self, name: str) -> Register:
        """The register or block holding `name` (a block's own name or one element's)."""
        for reg in self.registers:
            if name == reg.name or name in reg.names():
                return reg
        raise KeyError(name)
