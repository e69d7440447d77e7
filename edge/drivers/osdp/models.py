"""Reader configuration and the events an OSDP bus yields: frozen, keyword-only records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class ReaderConfig:
    """One OSDP peripheral device (card reader / door controller) on a bus."""

    address: int
    scbk: bytes = field(repr=False)  # secure channel base key: never in logs
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 126:
            raise ValueError(f"OSDP address {self.address} is outside 0..126")
        if len(self.scbk) != 16:
            raise ValueError(f"reader {self.address}: scbk must be 16 bytes, got {len(self.scbk)}")


@dataclass(frozen=True, kw_only=True)
class CardRead:
    """A card presented at a reader; `card` is the decimal card number."""

    address: int
    card: str
    bits: int
    at: float  # time.monotonic() when the driver received it


@dataclass(frozen=True, kw_only=True)
class InputChanged:
    """A PD input changed state (for a door controller: 0 = door contact, 1 = exit button)."""

    address: int
    input_no: int
    active: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderStatus:
    """A reader came online or went offline."""

    address: int
    online: bool
    secure: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderInsecure:
    """A reader answers on the line but does not come online over the secure channel with
    its key: it offers OSDP's well-known default key (`default_key`), or it refuses or fails
    the secure channel (`secure_channel_failed`). The bus never uses it without its key."""

    address: int
    reason: Literal["default_key", "secure_channel_failed"]
    at: float


# OSDP manufacturer reports (osdp_MFGREP) with this vendor code carry scanned text (a QR code):
# a card read holds at most 64 bytes in libosdp, a manufacturer report 128.
SCAN_VENDOR_CODE = 0x4C4E54  # "LNT"


@dataclass(frozen=True, kw_only=True)
class ScanRead:
    """A code scanned at a reader (QR), as the bytes the reader reported."""

    address: int
    data: bytes
    at: float


BusEvent = CardRead | InputChanged | ReaderStatus | ReaderInsecure | ScanRead
