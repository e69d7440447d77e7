"""A card reader plus door controller speaking real OSDP (libosdp peripheral device).

Input 0 is the door contact (active = open), input 1 the request-to-exit button, output 0
the lock relay. The reader has one LED and a buzzer. Secure channel is always enforced.

With no `port` the simulator makes a pty pair and serves the PD on the master end; `.port`
is the slave path an OSDP control panel opens like any serial port. The pty lives until
`close()`, so `stop()` then `start()` looks to the panel like a reader power-cycling.
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from types import TracebackType
from typing import Any, Self

import osdp
import osdp_sys
import serial

_TICK = 0.005
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


class _FdChannel(osdp.Channel):
    """Non-blocking reads and writes on a file descriptor (pty master or serial device)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def read(self, max_bytes: int) -> bytes:
        try:
            return os.read(self.fd, max_bytes)
        except (BlockingIOError, OSError):
            return b""  # OSError: EIO on a pty master while nothing holds the slave open

    def write(self, buf: bytes) -> int:
        try:
            return os.write(self.fd, bytes(buf))
        except (BlockingIOError, OSError):
            return 0

    def flush(self) -> None:
        pass


def encode_card(card: str) -> tuple[bytes, int]:
    """Decimal card number -> big-endian bytes (at least 2) and the length in bits."""
    if not card.isdigit():
        raise ValueError(f"card number must be decimal digits, got {card!r}")
    number = int(card)
    size = max(2, (number.bit_length() + 7) // 8)
    return number.to_bytes(size, "big"), size * 8


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
    ) -> None:
        self.address = address
        self.name = name
        self._scbk = scbk
        self._serial: serial.Serial | None = None
        self._slave_fd: int | None = None
        if port is None:
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fd = master
            self._slave_fd = slave  # held open so the master never sees EIO between panels
            self.port = os.ttyname(slave)
        else:
            self._serial = serial.Serial(port, baudrate, timeout=0)
            self._fd = self._serial.fileno()
            self.port = port
        os.set_blocking(self._fd, False)
        self._channel = _FdChannel(self._fd)
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
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

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"door {self.name}: simulator already running")
        while self._channel.read(4096):
            pass  # whatever the panel sent while we were down
        osdp_sys.set_loglevel(osdp.LogLevel.Error)
        info = osdp.PDInfo(
            self.address,
            self._channel,
            scbk=self._scbk,
            name=self.name,
            # no key: a reader in install mode, which accepts OSDP's default key (SCBK-D)
            flags=[osdp.LibFlag.EnforceSecure] if self._scbk is not None else [],
        )
        self._pd = osdp_sys.PeripheralDevice(info.get(), capabilities=_CAPABILITIES.get())
        self._pd.set_command_callback(self._on_command)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"osdp-pd {self.name}", daemon=True)
        self._thread.start()

    def swap(self, scbk: bytes | None) -> None:
        """Another reader on the same line and address, keyed with `scbk` (None: in install
        mode), a technician's replacement never enrolled or an intruder's: stops this one and
        starts that."""
        self.stop()
        self._scbk = scbk
        self.start()

    def stop(self) -> None:
        """Stop answering the panel (the pty stays, so `start()` may follow)."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake()
        self._thread.join()
        self._thread = None
        self._pd = None

    def close(self) -> None:
        """Stop and release the port."""
        self.stop()
        if self._serial is not None:
            self._serial.close()
        else:
            os.close(self._fd)
            if self._slave_fd is not None:
                os.close(self._slave_fd)
        os.close(self._wake_r)
        os.close(self._wake_w)

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

    def inject_garbage(self, data: bytes) -> None:
        """Write raw bytes towards the panel between two frames (line noise)."""
        with self._lock:
            os.write(self._fd, data)

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
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass  # a wake-up is already pending

    def _run(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._fd, self._wake_r], [], [], _TICK)
            if self._wake_r in readable:
                try:
                    os.read(self._wake_r, 512)
                except BlockingIOError:
                    pass
            with self._lock:
                self._pd.refresh()
            revert_at = self._relay_revert_at
            if revert_at is not None and time.monotonic() >= revert_at:
                self._relay_revert_at = None
                self._set_relay(self._relay_permanent)

    def _on_command(self, cmd: dict[str, Any]) -> tuple[int, None]:
        # Called by libosdp inside refresh(), on the simulator's thread.
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
            self.keys_set += 1
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
