"""OSDP driver: card readers and door controllers on an RS-485 line, via libosdp."""

from edge.drivers.osdp.bus import OsdpBus
from edge.drivers.osdp.errors import OsdpError
from edge.drivers.osdp.models import (
    SCAN_VENDOR_CODE,
    BusEvent,
    CardRead,
    InputChanged,
    ReaderConfig,
    ReaderInsecure,
    ReaderStatus,
    ScanRead,
)

__all__ = [
    "SCAN_VENDOR_CODE",
    "BusEvent",
    "CardRead",
    "InputChanged",
    "OsdpBus",
    "OsdpError",
    "ReaderConfig",
    "ReaderInsecure",
    "ReaderStatus",
    "ScanRead",
]
