"""DL/T 645-2007 electricity meters on RS-485: the frame codec and a line polling its meters."""

from edge.drivers.dlt645.errors import FrameError, MeterError
from edge.drivers.dlt645.frame import Frame, FrameReader, decode, encode, read_request
from edge.drivers.dlt645.items import ITEMS, DataItem
from edge.drivers.dlt645.line import Dlt645Line, check_meters
from edge.drivers.dlt645.models import (
    Counters,
    LineConfig,
    MeterConfig,
    MeterEvent,
    MeterReading,
    MeterStatus,
)

__all__ = [
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
