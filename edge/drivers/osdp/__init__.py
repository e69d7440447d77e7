"""OSDP driver: card readers and door controllers on an RS-485 line, via libosdp."""

from edge.drivers.osdp.bus import OsdpBus
from edge.drivers.osdp.errors import OsdpError
from edge.drivers.osdp.models import (
    SCAN_VENDOR_CODE,
    BusEvent,
    CardDataFormat,
    CardRead,
    InputChanged,
    KeyPress,
    ReaderConfig,
    ReaderInsecure,
    ReaderKeyed,
    ReaderKeyFailed,
    ReaderLocalStatus,
    ReaderStatus,
    ScanRead,
)

__all__ = [
    "SCAN_VENDOR_CODE",
    "BusEvent",
    "CardDataFormat",
    "CardRead",
    "InputChanged",
    "KeyPress",
    "OsdpBus",
    "OsdpError",
    "ReaderConfig",
    "ReaderInsecure",
    "ReaderKeyFailed",
    "ReaderKeyed",
    "ReaderLocalStatus",
    "ReaderStatus",
    "ScanRead",
]
