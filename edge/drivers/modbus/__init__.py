"""Modbus RTU/TCP polling on pymodbus: one line (client and task) per port, one link per unit."""

from edge.drivers.modbus.errors import ModbusError
from edge.drivers.modbus.line import ModbusLine, check_line
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
    "ModbusLine",
    "ModbusLink",
    "PollResult",
    "ReadBlock",
    "Table",
    "Timing",
    "check_line",
]
