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


CardDataFormat = Literal["raw", "wiegand"]


@dataclass(frozen=True, kw_only=True)
class CardRead:
    """A card presented at a reader, as the reader sent it.

    `format` "raw" is the reader's own decoded card number (`card`, decimal, from `data`
    read as one big-endian number); "wiegand" is the card's raw Wiegand bits, `bits` of them
    packed from the first byte's top bit on (OSDP osdp_RAW), which the door decodes into a
    facility code and a card number by the site's card format."""

    address: int
    card: str
    bits: int
    at: float  # time.monotonic() when the driver received it
    data: bytes = b""
    format: CardDataFormat = "raw"


@dataclass(frozen=True, kw_only=True)
class KeyPress:
    """Keys pressed on a reader's keypad: digits, "*" and "#" (OSDP sends 0x7F and 0x0D)."""

    address: int
    keys: str
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderLocalStatus:
    """A reader's own tamper switch and power monitor (OSDP osdp_LSTATR)."""

    address: int
    tamper: bool
    power_fail: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderKeyed:
    """A reader took a new secure channel key (OSDP KEYSET acknowledged); the bus now uses it."""

    address: int
    key: bytes = field(repr=False)
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderKeyFailed:
    """A KEYSET the reader did not acknowledge: it keeps its old key, and so does the bus."""

    address: int
    reason: str
    at: float


@dataclass(frozen=True, kw_only=True)
class InputChanged:
    """A PD input changed state (for a door controller: 0 = door contact, 1 = exit button)."""

    address: int
    input_no: int
    active: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ReaderStatus:
    """A reader came online or went offline; `restarts`: of its session by the bus so far."""

    address: int
    online: bool
    secure: bool
    at: float
    restarts: int = 0


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


BusEvent = (CardRead | InputChanged | ReaderStatus | ReaderInsecure | ScanRead | KeyPress
            | ReaderLocalStatus | ReaderKeyed | ReaderKeyFailed)
