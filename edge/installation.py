"""What only the edge can judge of an installation (wire.config): does its firmware know every
device model, do its serial ports exist, can it drive the lines as asked. A configuration
that fails here is refused as a whole; the one running stays."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edge.drivers.dlt645 import ITEMS
from edge.sensors.loader import load_models
from edge.sensors.models import DeviceModel
from wire.config import ConfigContent, DeviceConfig
from wire.vehicles import LaneConfig, ModbusBarrier


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an installation cannot be applied: `reason` is one short word for alarms and
    counters, `detail` names the item and the cause."""

    reason: str
    detail: str


def check_supported(content: ConfigContent, *, ports: bool,
                    models: dict[str, DeviceModel] | None = None) -> Refusal | None:
    """The first reason this edge cannot run `content`, or None. With `ports`, every serial
    port must exist now (a configuration pushed from the hub; the file's initial one is
    opened as it is, with the drivers' own retries)."""
    models = load_models() if models is None else models
    resolved = content.resolved()
    for i, device in enumerate(resolved.devices):
        model = models.get(device.model)
        if model is None:
            return Refusal("unknown_model", f"devices.{i}: device {device.id}: unknown model "
                           f"{device.model!r}; known: {', '.join(sorted(models))}")
        if device.transport not in model.transport.kinds:
            return Refusal("unsupported", f"devices.{i}: device {device.id}: model "
                           f"{device.model} offers no {device.transport} transport")
    for i, meter in enumerate(resolved.meters):
        unknown = [item for item in meter.items if item not in ITEMS]
        if unknown:
            return Refusal("unsupported", f"meters.{i}: meter {meter.id}: unknown data items "
                           f"{', '.join(unknown)}; known: {', '.join(sorted(ITEMS))}")
    shared = _check_lines(resolved.devices, models, resolved.lanes)
    if shared is not None:
        return Refusal("unsupported", shared)
    if ports:
        for door in resolved.doors:
            if door.reader.port is not None and not os.path.exists(door.reader.port):
                return Refusal("serial_port_missing", f"door {door.id}: serial port "
                               f"{door.reader.port} does not exist on this edge")
        for device in resolved.devices:
            if device.port is not None and not os.path.exists(device.port):
                return Refusal("serial_port_missing", f"device {device.id}: serial port "
                               f"{device.port} does not exist on this edge")
        lines = {line.id: line for line in resolved.lines}
        for meter in resolved.meters:
            if not os.path.exists(lines[meter.line].port):
                return Refusal("serial_port_missing", f"meter {meter.id}: serial port "
                               f"{lines[meter.line].port} does not exist on this edge")
    return None


def _check_lines(devices: list[DeviceConfig], models: dict[str, DeviceModel],
                 lanes: list[LaneConfig]) -> str | None:
    """Several units may share one RS-485 line (or one TCP gateway), a lane's Modbus barrier
    among them: at distinct unit ids and, on a serial line, with the same serial settings
    (the line has one)."""
    units: list[tuple[tuple[str, ...], int, str, tuple[int, int, str, int] | None]] = []
    for dev in devices:
        model = models[dev.model].transport
        if dev.transport == "rtu":
            key: tuple[str, ...] = ("rtu", str(dev.port))
        else:
            key = ("tcp", str(dev.host), str(dev.tcp_port or model.tcp_port))
        serial = _serial(dev, models) if dev.transport == "rtu" else None
        units.append((key, dev.unit_id or model.unit_id, f"devices {dev.id}", serial))
    for lane in lanes:
        b = lane.barrier
        if not isinstance(b, ModbusBarrier):
            continue
        if b.transport == "rtu":
            key, serial = ("rtu", str(b.port)), (b.baudrate or 9600, 8, b.parity or "N",
                                                 b.stopbits or 1)
        else:
            key, serial = ("tcp", str(b.host), str(b.tcp_port)), None
        units.append((key, b.unit_id, f"lane {lane.id}'s barrier", serial))
    lines: dict[tuple[str, ...], dict[int, tuple[str, tuple[int, int, str, int] | None]]] = {}
    for key, unit, who, serial in units:
        held = lines.setdefault(key, {})
        if unit in held:
            return (f"{held[unit][0]} and {who.removeprefix('devices ')} share unit id {unit} "
                    f"on {' '.join(key[1:])}: give one of them its own unit_id")
        if serial is not None and held:
            other, theirs = next(iter(held.values()))
            if serial != theirs:
                return (f"{other} and {who.removeprefix('devices ')} share serial port "
                        f"{key[1]} with different serial settings {theirs} and {serial}: a "
                        "line has one")
        held[unit] = (who, serial)
    return None


def _serial(dev: DeviceConfig, models: dict[str, DeviceModel]) -> tuple[int, int, str, int]:
    """The serial settings a device runs at: the installer's override, else its model's."""
    s = models[dev.model].transport.serial
    return (dev.serial.baudrate or s.baudrate, s.bytesize, dev.serial.parity or s.parity,
            dev.serial.stopbits or s.stopbits)


__all__ = ["Refusal", "check_supported"]
