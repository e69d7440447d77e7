"""Modbus RTU/TCP polling on pymodbus: one link (client and task) per device."""

from edge.drivers.modbus.errors import ModbusError
from edge.drivers.modbus.link import LinkEvent, ModbusLink
from edge.drivers.modbus.models import (
    Counters,
    LinkConfig,
    LinkStatus,
    PollResult,
    ReadBlock,
    Table,
    Timing,
)

__all__ = [
    "Counters",
    "LinkConfig",
    "LinkEvent",
    "LinkStatus",
    "ModbusError",
    "ModbusLink",
    "PollResult",
    "ReadBlock",
    "Table",
    "Timing",
]
