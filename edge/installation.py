"""What only the edge can judge of an installation (wire.config): does its firmware know every
device model, do its serial ports exist, can it drive the lines as asked. A configuration
that fails here is refused as a whole; the one running stays."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edge.sensors.loader import load_models
from edge.sensors.models import DeviceModel
from wire.config import ConfigContent


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
    owners: dict[str, str] = {}
    for device in resolved.devices:
        if device.transport == "rtu" and device.port is not None:
            if device.port in owners:
                return Refusal("unsupported", f"devices {owners[device.port]} and {device.id} "
                               f"share serial port {device.port}: one RS-485 line per device "
                               "is supported")
            owners[device.port] = device.id
    if ports:
        for door in resolved.doors:
            if door.reader.port is not None and not os.path.exists(door.reader.port):
                return Refusal("serial_port_missing", f"door {door.id}: serial port "
                               f"{door.reader.port} does not exist on this edge")
        for device in resolved.devices:
            if device.port is not None and not os.path.exists(device.port):
                return Refusal("serial_port_missing", f"device {device.id}: serial port "
                               f"{device.port} does not exist on this edge")
    return None


__all__ = ["Refusal", "check_supported"]
