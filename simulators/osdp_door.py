"""A card reader plus door controller speaking real OSDP (libosdp peripheral device).

Input 0 is the door contact (active = open), input 1 the request-to-exit button, output 0
the lock relay. The reader has one LED and a buzzer. Secure channel is always enforced.

With no `port` the simulator makes a pty pair and serves the PD on the master end; `.port`
is the slave path an OSDP control panel opens like any serial port. The pty lives until
`close()`, so `stop()` then `start()` looks to the panel like a reader power-cycling.
Several readers share one RS-485 line (multi-drop) when given the same `OsdpLine`.

A reader made with no key is in install mode, as one arrives from the factory: it takes
OSDP's install key SCBK-D, and keeps the key a panel then sets (KEYSET) as its own, across
`stop()` and `start()`, as a real reader keeps it in its memory.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import osdp
import osdp_sys

from edge.drivers.osdp.channel import crc16
from simulators.osdp_line import OsdpLine

_INPUTS = 2
_DOOR_CONTACT, _EXIT_BUTTON = 0, 1
_TIMER_UNIT_S = 0.1
# The vendor code under which the reader reports scanned QR text (edge.drivers.osdp's
# SCAN_VENDOR_CODE: simulators do not import the edge). libosdp carries at most 128 bytes.
SCAN_VENDOR_CODE = 0x4C4E54
SCAN_MAX_BYTES = 128

_LED_NAMES = {
    osdp.CommandLEDColor.Black: "off",
    osdp.CommandLEDColor.Red: "red",
    osdp.CommandLEDColor.Green: "green",
    osdp.CommandLEDColor.Amber: "amber",
    osdp.CommandLEDColor.Blue: "blue",
    osdp.CommandLEDColor.Magenta: "magenta",
    osdp.CommandLEDColor.Cyan: "cyan",
    osdp.CommandLEDColor.White: "white",
}

_CAPABILITIES = osdp.PDCapabilities(
    [
        (osdp.Capability.ContactStatusMonitoring, 1, _INPUTS),
        (osdp.Capability.OutputControl, 1, 1),
        (osdp.Capability.LEDControl, 1, 1),
        (osdp.Capability.AudibleControl, 1, 1),
        (osdp.Capability.CardDataFormat, 1, 0),
        (osdp.Capability.CommunicationSecurity, 1, 1),
    ]
)


# OSDP framing, for break_secure_channel: start of message, control bits, the first
# security block type that carries a MAC (SCS_15)
_SOM, _CTRL_CRC, _CTRL_SCB, _SCS_MAC = 0x53, 0x04, 0x08, 0x15


# OSDP keypad data: digits as ASCII, "*" as DEL (0x7F), "#" as CR (0x0D)
_KEY_CODES = {"*": 0x7F, "#": 0x0D}


def encode_card(card: str) -> tuple[bytes, int]:
    """Decimal card number -> big-endian bytes (at least 2) and the length in bits."""
    if not card.isdigit():
        raise ValueError(f"card number must be decimal digits, got {card!r}")
    number = int(card)
    size = max(2, (number.bit_length() + 7) // 8)
    return number.to_bytes(size, "big"), size * 8


def _with_parity(payload: int, bits: int) -> int:
    """`payload` (bits - 2 bits) framed by Wiegand parity: the leading bit makes the first
    half even, the trailing bit makes the second half odd (H10301, H10306)."""
    half = (bits - 2) // 2
    first, second = payload >> half, payload & ((1 << half) - 1)
    even = bin(first).count("1") & 1
    odd = 1 - (bin(second).count("1") & 1)
    return (even << (bits - 1)) | (payload << 1) | odd


def encode_wiegand(facility: int, card: int, bits: int = 26) -> bytes:
    """A raw Wiegand read as a reader sends it (OSDP osdp_RAW): 26-bit H10301 (8-bit facility,
    16-bit card) or 34-bit (16-bit facility, 16-bit card), parity included, packed from the
    first byte's top bit."""
    widths = {26: 8, 34: 16}
    if bits not in widths:
        raise ValueError(f"Wiegand format must be 26 or 34 bits, got {bits}")
    fac_bits = widths[bits]
    if not 0 <= facility < 1 << fac_bits:
        raise ValueError(f"facility code {facility} does not fit {fac_bits} bits")
    if not 0 <= card < 1 << 16:
        raise ValueError(f"card number {card} does not fit 16 bits")
    return pack_bits(_with_parity(facility << 16 | card, bits), bits)


def pack_bits(value: int, bits: int) -> bytes:
    """`bits` bits of `value`, most significant first, left-aligned in whole bytes."""
    size = (bits + 7) // 8
    return (value << (size * 8 - bits)).to_bytes(size, "big")


class OsdpDoorSimulator:
    """An OSDP door: reader, door contact, exit button and lock relay."""

    def __init__(
        self,
        *,
        address: int = 101,
        scbk: bytes | None,
        name: str = "door",
        port: str | None = None,
        baudrate: int = 115200,
        line: OsdpLine | None = None,
    ) -> None:
        self.address = address
        self.name = name
        self._scbk = scbk
        self._own_line = line is None
        self._line = OsdpLine(port, baudrate) if line is None else line
        self.port = self._line.port
        self._lock = self._line.lock
        self._changed = threading.Condition()
        self._running = False
        self._pd: Any = None
        self._inputs = [0] * _INPUTS
        self._relay_permanent = False
        self._relay = False
        self._relay_since = time.monotonic()
        self._relay_revert_at: float | None = None
        self.relay_changes: list[tuple[float, bool]] = []
        self.last_led: dict[str, Any] | None = None
        self.beeps: list[tuple[float, int]] = []  # (time.monotonic(), on_ms)
        self.keys_set = 0  # KEYSET commands a panel sent (libosdp applies them itself)
        self.tamper = False
        self.power_fail = False
        self._bad_mac_until = 0.0
        self.bad_macs = 0  # replies sent with a wrong MAC (break_secure_channel)

    # --- life cycle -------------------------------------------------------------------

    @property
    def scbk(self) -> bytes | None:
        """The key the reader holds now (None: in install mode)."""
        return self._scbk

    def start(self) -> None:
        if self._running:
            raise RuntimeError(f"door {self.name}: simulator already running")
        osdp_sys.set_loglevel(osdp.LogLevel.Error)
        channel = self._line.channel()
        info = osdp.PDInfo(
            self.address,
            channel,
            scbk=self._scbk,
            name=self.name,
            # no key: a reader in install mode, which accepts OSDP's default key (SCBK-D)
            flags=[osdp.LibFlag.EnforceSecure] if self._scbk is not None else [],
        )
        channel.tamper = self._garble_mac
        self._pd = osdp_sys.PeripheralDevice(info.get(), capabilities=_CAPABILITIES.get())
        self._pd.set_command_callback(self._on_command)
        self._line.attach(self.address, channel, self._pd, self._tick)
        self._running = True

    def swap(self, scbk: bytes | None) -> None:
        """Another reader on the same line and address, keyed with `scbk` (None: in install
        mode), a technician's replacement never enrolled or an intruder's: stops this one and
        starts that."""
        self.stop()
        self._scbk = scbk
        self.keys_set = 0
        self.start()

    def stop(self) -> None:
        """Stop answering the panel (the pty stays, so `start()` may follow)."""
        if not self._running:
            return
        self._line.detach(self.address)
        self._running = False
        self._pd = None

    def close(self) -> None:
        """Stop and release the port (unless the line is shared: its owner closes it)."""
        self.stop()
        if self._own_line:
            self._line.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- what a person does at the door -------------------------------------------------

    def present_card(self, card: str) -> None:
        data, bits = encode_card(card)
        self._submit(
            {
                "event": osdp.Event.CardRead,
                "reader_no": 0,
                "direction": 0,
                "format": osdp.CardFormat.Unspecified,
                "data": data,
                "length": bits,
            }
        )

    def present_wiegand(self, facility: int, card: int, bits: int = 26) -> None:
        """Present a card whose raw Wiegand bits the reader passes on undecoded."""
        self.present_raw_wiegand(encode_wiegand(facility, card, bits), bits)

    def present_raw_wiegand(self, data: bytes, bits: int) -> None:
        """Raw Wiegand bits as read, parity and all (e.g. a misread with bad parity)."""
        if not 0 < bits <= len(data) * 8:
            raise ValueError(f"{bits} bits do not fit {len(data)} bytes")
        self._submit({"event": osdp.Event.CardRead, "reader_no": 0, "direction": 0,
                      "format": osdp.CardFormat.Wiegand, "data": data, "length": bits})

    def press_keys(self, keys: str) -> None:
        """Keys on the reader's keypad: digits, "*" and "#"."""
        if not keys or any(k not in "0123456789*#" for k in keys):
            raise ValueError(f"keys must be digits, '*' or '#', got {keys!r}")
        data = bytes(_KEY_CODES.get(k, ord(k)) for k in keys)
        self._submit({"event": osdp.Event.KeyPress, "reader_no": 0, "data": data})

    def set_tamper(self, tampered: bool) -> None:
        """Open (True) or close the reader's tamper switch."""
        self.tamper = tampered
        self._local_status()

    def set_power_fail(self, failed: bool) -> None:
        """The reader's power monitor reports a failure (True) or power back."""
        self.power_fail = failed
        self._local_status()

    def present_qr(self, text: str) -> None:
        """Scan a QR code: its text goes to the panel as an OSDP manufacturer report."""
        data = text.encode("ascii")
        if not 0 < len(data) <= SCAN_MAX_BYTES:
            raise ValueError(f"QR text must be 1 to {SCAN_MAX_BYTES} ASCII bytes, got {len(data)}")
        self._submit(
            {"event": osdp.Event.ManufacturerReply, "vendor_code": SCAN_VENDOR_CODE,
             "mfg_command": 1, "data": data}
        )

    def set_door_contact(self, is_open: bool) -> None:
        self._set_input(_DOOR_CONTACT, is_open)

    def press_exit(self) -> None:
        self._set_input(_EXIT_BUTTON, True)
        self._set_input(_EXIT_BUTTON, False)

    def break_secure_channel(self, seconds: float) -> None:
        """For `seconds`, every secure reply carries a wrong MAC (its CRC still good), as when
        a loaded machine breaks the secure channel's MAC chain: the panel's libosdp logs
        "Invalid MAC" and drops the reader; the handshake itself still works, so each new
        session fails at its first poll until the time is up."""
        self._bad_mac_until = time.monotonic() + seconds

    @property
    def secure_channel_broken(self) -> bool:
        return time.monotonic() < self._bad_mac_until

    def _garble_mac(self, data: bytes) -> bytes:
        # on the line's thread: SOM, addr, len, ctrl, [SCB len, SCB type, ...], ..., MAC, CRC
        if time.monotonic() >= self._bad_mac_until or len(data) < 14 or data[0] != _SOM:
            return data
        length = data[2] | data[3] << 8
        if (length != len(data) or not data[4] & _CTRL_SCB or not data[4] & _CTRL_CRC
                or data[6] < _SCS_MAC):
            return data  # not a frame carrying a MAC (the handshake's frames carry none)
        frame = bytearray(data)
        frame[length - 6] ^= 0x5A  # the MAC's first byte
        crc = crc16(frame[:-2])
        frame[-2:] = bytes([crc & 0xFF, crc >> 8])
        self.bad_macs += 1
        return bytes(frame)

    def inject_garbage(self, data: bytes) -> None:
        """Write raw bytes towards the panel between two frames (line noise)."""
        with self._lock:
            self._line.write(data)

    # --- what the panel did ---------------------------------------------------------------

    @property
    def relay(self) -> bool:
        return self._relay

    @property
    def online(self) -> bool:
        pd = self._pd
        return pd is not None and bool(pd.is_online()) and bool(pd.is_sc_active())

    @property
    def inputs(self) -> list[bool]:
        return [bool(v) for v in self._inputs]

    def wait_relay(self, state: bool, timeout: float) -> float | None:
        """Monotonic time the relay reached `state` (now or earlier), None on timeout."""
        with self._changed:
            if self._changed.wait_for(lambda: self._relay == state, timeout):
                return self._relay_since
        return None

    # --- internals ------------------------------------------------------------------------

    def _local_status(self) -> None:
        self._submit({"event": osdp.Event.Status, "type": osdp.StatusReportType.Local,
                      "nr_entries": 2, "report": bytes([self.tamper, self.power_fail])})

    def _set_input(self, input_no: int, active: bool) -> None:
        self._inputs[input_no] = int(active)
        self._submit(
            {
                "event": osdp.Event.Status,
                "type": osdp.StatusReportType.Input,
                "nr_entries": _INPUTS,
                "report": bytes(self._inputs),
            }
        )

    def _submit(self, event: dict[str, Any]) -> None:
        pd = self._pd
        if pd is None:
            raise RuntimeError(f"door {self.name}: simulator is not running")
        with self._lock:
            ok = pd.submit_event(event)
        if not ok:
            raise RuntimeError(f"door {self.name}: libosdp refused event {event['event']}")
        self._wake()

    def _wake(self) -> None:
        self._line.wake()

    def _tick(self) -> None:
        # on the line's thread, after this reader's refresh
        revert_at = self._relay_revert_at
        if revert_at is not None and time.monotonic() >= revert_at:
            self._relay_revert_at = None
            self._set_relay(self._relay_permanent)

    def _on_command(self, cmd: dict[str, Any]) -> tuple[int, None]:
        # Called by libosdp inside refresh(), on the line's thread.
        kind = cmd.get("command")
        if kind == osdp.Command.Output and cmd.get("output_no") == 0:
            self._output(int(cmd["control_code"]), int(cmd.get("timer_count", 0)))
        elif kind == osdp.Command.LED:
            self.last_led = {
                "color": _LED_NAMES.get(cmd.get("on_color", 0), str(cmd.get("on_color"))),
                "temporary": bool(cmd.get("temporary")),
                "on_ms": int(cmd.get("on_count", 0)) * 100,
                "at": time.monotonic(),
            }
        elif kind == osdp.Command.Buzzer and cmd.get("control_code") != 1:
            self.beeps.append((time.monotonic(), int(cmd.get("on_count", 0)) * 100))
        elif kind == osdp.Command.Keyset:
            # libosdp switches to the key itself; a reader keeps it across power cycles
            self.keys_set += 1
            data = cmd.get("data", b"")
            self._scbk = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        return 0, None

    def _output(self, code: int, timer_count: int) -> None:
        # osdp_OUT control codes: 1/2 permanent off/on (cancel timer), 3/4 permanent
        # off/on (let a running timer finish), 5/6 temporary on/off for timer_count x 100 ms.
        if code in (1, 2, 3, 4):
            self._relay_permanent = code in (2, 4)
            if code in (1, 2) or self._relay_revert_at is None:
                self._relay_revert_at = None
                self._set_relay(self._relay_permanent)
        elif code in (5, 6):
            self._relay_revert_at = time.monotonic() + timer_count * _TIMER_UNIT_S
            self._set_relay(code == 5)

    def _set_relay(self, state: bool) -> None:
        with self._changed:
            if state == self._relay:
                return
            now = time.monotonic()
            self._relay = state
            self._relay_since = now
            self.relay_changes.append((now, state))
            self._changed.notify_all()
