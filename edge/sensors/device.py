"""A device model applied to polled values: typed readings, telemetry, faults, commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from edge.drivers.modbus import ReadBlock, Table
from edge.sensors.codec import raw_value, scaled
from edge.sensors.models import WORDS, DeviceModel, FaultCode, Register
from wire.devices import DeviceData, DeviceEventType, Reading, TelemetryData

Values = Mapping[tuple[Table, int], int | bool]
Write = tuple[Table, int, list[int | bool]]

_MAX_SPAN = {"coil": 2000, "discrete_input": 2000, "holding": 125, "input": 125}
_MAX_GAP = 8  # read across a small hole rather than send another request


class DeviceReader:
    """Everything the edge needs to know about one model, computed once."""

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self.blocks = _blocks(model.registers)

    def raw(self, values: Values, name: str) -> int | bool:
        reg = self.model.register(name)
        index = 0 if name == reg.name else reg.names().index(name)
        start = reg.address + index * WORDS[reg.type]
        return raw_value(reg, [values[(reg.table, a)] for a in range(start, start + WORDS[reg.type])])

    def value(self, values: Values, name: str) -> float | int | bool | str:
        """The engineering value, or the state's name when the map names states."""
        reg = self.model.register(name)
        raw = self.raw(values, name)
        if reg.states is not None and not isinstance(raw, bool):
            return reg.states.get(int(raw), f"unknown_{raw}")
        return scaled(reg, raw)

    def telemetry(self, values: Values) -> TelemetryData | None:
        """The model's telemetry registers now; None for a model with none (a board's page
        and dots are reported by its own supervisor)."""
        readings = [
            Reading(name=name, value=self.value(values, name), unit=reg.unit)
            for reg in self.model.registers if reg.telemetry
            for name in reg.names()
        ]
        if not readings:
            return None
        return TelemetryData(device_type=self.model.device_type, model=self.model.model,
                             readings=readings)

    def active_faults(self, values: Values) -> list[FaultCode]:
        return [f for f in self.model.faults if self._active(f, values)]

    def _active(self, fault: FaultCode, values: Values) -> bool:
        raw = self.raw(values, fault.point)
        if fault.equals is not None:
            return int(raw) == fault.equals
        if fault.bit is not None:
            return bool(int(raw) >> fault.bit & 1)
        value = scaled(self.model.register(fault.point), raw)
        if fault.below is not None:
            return float(value) < fault.below
        assert fault.above is not None  # a FaultCode holds exactly one condition
        return float(value) > fault.above

    def zones_in_alarm(self, values: Values) -> list[int]:
        """Fire zones (numbered from 1) whose state is an alarm state."""
        fz = self.model.fire_zones
        if fz is None:
            return []
        names = self.model.register(fz.point).names()
        return [i for i, name in enumerate(names, 1) if self.raw(values, name) in fz.alarm_states]

    def security_zone_states(self, values: Values) -> dict[int, str]:
        """An alarm panel's zones by number: normal, active, tamper or fault."""
        sz = self.model.security_zones
        if sz is None:
            return {}
        names = self.model.register(sz.point).names()
        states = {}
        for zone in sz.zones:
            raw = int(self.raw(values, names[zone.zone - 1]))
            states[zone.zone] = ("active" if raw in sz.active_states else
                                 "tamper" if raw in sz.tamper_states else
                                 "normal" if raw in sz.normal_states else "fault")
        return states

    def recall_write(self, active: bool) -> Write:
        recall = self.model.recall
        if recall is None:
            raise ValueError(f"{self.model.model} has no recall command")
        reg = self.model.register(recall.point)
        word = recall.value if active else recall.normal
        return reg.table, reg.address, [bool(word)] if reg.type == "bool" else _words(reg, word)

    def floor_write(self, floors: Iterable[int]) -> Write:
        """Enable exactly `floors` (those the car serves); every other floor is disabled."""
        fa = self.model.floor_access
        if fa is None:
            raise ValueError(f"{self.model.model} has no floor access control")
        reg = self.model.register(fa.point)
        wanted = {b for f in floors if (b := fa.bit(f)) is not None}
        bits = [i in wanted for i in range(fa.floors)]
        if reg.table == "coil":
            return "coil", reg.address, list(bits)
        mask = sum(1 << i for i, on in enumerate(bits) if on)
        return reg.table, reg.address, _words(reg, mask)


    def floors_inhibited(self, values: Values | None) -> str | None:
        """Why the car takes no card calls now (fire recall, out of service …), or None.

        Judged on the last poll: with none yet, the state is unknown and nothing is enabled."""
        fa = self.model.floor_access
        if fa is None:
            return "no floor access control"
        if values is None:
            return "state unknown (not polled yet)"
        for inhibit in fa.inhibit:
            raw = self.raw(values, inhibit.point)
            if int(raw) in inhibit.values:
                shown = self.value(values, inhibit.point)
                return f"{inhibit.point} = {str(shown).lower()}"
        return None


class FaultTracker:
    """Edge-side dedup: each fault is raised once when it appears and cleared once when it goes."""

    def __init__(self, reader: DeviceReader) -> None:
        self._reader = reader
        self.active: set[str] = set()

    def update(self, values: Values) -> list[DeviceData]:
        model = self._reader.model
        now = {f.code: f for f in self._reader.active_faults(values)}
        events = []
        for fault in model.faults:
            if fault.code in now and fault.code not in self.active:
                events.append(_fault_event(model, fault, "fault_raised"))
            elif fault.code not in now and fault.code in self.active:
                events.append(_fault_event(model, fault, "fault_cleared"))
        self.active = set(now)
        return events


def _fault_event(model: DeviceModel, fault: FaultCode, event: DeviceEventType) -> DeviceData:
    return DeviceData(device_type=model.device_type, model=model.model, event=event,
                      code=fault.code, text=fault.text_en, text_zh=fault.text_zh,
                      severity=fault.severity, skill=fault.skill)


def _words(reg: Register, raw: int) -> list[int | bool]:
    n = WORDS[reg.type]
    return [(raw >> (16 * i)) & 0xFFFF for i in reversed(range(n))]


def _blocks(registers: Iterable[Register]) -> tuple[ReadBlock, ...]:
    """Merge the map into as few reads as the protocol allows, per table."""
    spans: dict[Table, list[tuple[int, int]]] = {}
    for reg in registers:
        spans.setdefault(reg.table, []).append((reg.address, reg.address + reg.count * WORDS[reg.type]))
    blocks = []
    for table, ranges in spans.items():
        ranges.sort()
        start, end = ranges[0]
        for lo, hi in ranges[1:]:
            if lo - end <= _MAX_GAP and max(hi, end) - start <= _MAX_SPAN[table]:
                end = max(end, hi)
            else:
                blocks.append(ReadBlock(table=table, address=start, count=end - start))
                start, end = lo, hi
        blocks.append(ReadBlock(table=table, address=start, count=end - start))
    return tuple(blocks)
