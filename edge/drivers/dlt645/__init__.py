"""DL/T 645-2007 electricity meters on RS-485: the frame codec and a line polling its meters
(which also polls CJ/T 188 water meters, edge.drivers.cjt188, when told that protocol)."""

from edge.drivers.dlt645.errors import FrameError, MeterError
from edge.drivers.dlt645.frame import Frame, FrameReader, decode, encode, read_request
from edge.drivers.dlt645.items import ITEMS, DataItem
from edge.drivers.dlt645.line import CJT188_ITEMS, Dlt645Line, check_meters
from edge.drivers.dlt645.models import (
    Counters,
    LineConfig,
    MeterConfig,
    MeterEvent,
    MeterReading,
    MeterStatus,
)

__all__ = [
    "CJT188_ITEMS",
    "ITEMS",
    "Counters",
    "DataItem",
    "Dlt645Line",
    "Frame",
    "FrameError",
    "FrameReader",
    "LineConfig",
    "MeterConfig",
    "MeterError",
    "MeterEvent",
    "MeterReading",
    "MeterStatus",
    "check_meters",
    "decode",
    "encode",
    "read_request",
]
