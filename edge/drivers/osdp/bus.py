"""One OSDP serial line driven as a control panel (CP), with one or more readers on it.

libosdp is not thread-safe and wants `refresh()` at least every 50 ms. The wrapper's own
thread sleeps 20 ms between refreshes, which costs tens of milliseconds per direction on a
card-to-relay round trip, so the bus owns its refresh thread: it waits on the serial port
and on a wake-up pipe, refreshes as soon as bytes arrive or a command is submitted, and at
least every `_TICK` seconds otherwise.

libosdp 3.2 declares a silent reader offline after about 8 s of probing and then waits
300 s before it tries again. The bus takes the retry over: when libosdp reports a reader
offline it restarts that reader's session (disable, then enable once libosdp has it
disabled) on its own capped, jittered backoff, and keeps restarting it until it is online
over the secure channel again, whatever libosdp says or fails to say meanwhile. A reader
whose secure channel breaks (libosdp: "Invalid MAC", seen on a loaded machine) comes back
this way; the other readers of the line are not touched. The backoff is reset only once
the reader has stayed online for `_STABLE_S`: a channel that breaks at every first poll
is restarted less and less often, not every half second. Should a refresh itself fail (an
exception out of libosdp or out of a callback it runs; it used to end the refresh thread and
leave every reader of the line offline until the agent restarted), the bus makes the line's
control panel anew, with the keys the readers hold, on its own backoff (`panel_restarts`).

A reader that answers on the line (good reply frames from its address) but goes offline
without ever coming online was refused by the secure channel (the bus enforces it): a wrong
or missing key, or no secure channel at all. The bus then tries OSDP's well-known default key
(SCBK-D) on that address with a panel of its own for a moment, also on a shared line (the
other readers answer only their own address and are merely not polled meanwhile): a reader
keyed with it, or in install mode, is reported as offering the default key ("commission it").
Either way it is reported once per episode (`ReaderInsecure`) and never used without its own
key.

Commissioning (`install`, `set_key`): a reader put in install mode on the bus may come up
with OSDP's install key. libosdp does it when the reader's EnforceSecure flag is cleared:
the handshake with the reader's configured key fails, libosdp retries with SCBK-D, and on
success it sends the reader the configured key (KEYSET) and restarts the secure channel with
it. `set_key` then gives a secure reader a fresh key of its own (KEYSET type 1); libosdp
switches the panel's key for that reader when the reader acknowledges, and the bus says so
(`ReaderKeyed`). Outside install mode the flag is set again: SCBK-D is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import select
import threading
import time
from types import TracebackType
from typing import Any, Self

import osdp
import osdp_sys
import serial

from edge.drivers.osdp.channel import SerialChannel
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

log = logging.getLogger(__name__)

_TICK = 0.005
# OSDP's default secure channel base key (SCBK-D), which any installer knows
DEFAULT_SCBK = bytes(range(0x30, 0x40))
_PROBE_S = 3.0  # how long the default-key probe may hold the line
_REKEY_GAP_S = 3.0  # the secure channel's restart after a KEYSET takes well under this
_REOPEN_MIN = 0.1
_REOPEN_MAX = 5.0
_STABLE_S = 10.0  # online this long: the reader's restart backoff starts over

# OSDP osdp_OUT control codes
_OUT_OFF, _OUT_ON, _OUT_TEMP_ON, _OUT_TEMP_OFF = 1, 2, 5, 6
_TIMER_UNIT_MS = 100  # output, LED and buzzer timers count in 100 ms units
_TIMER_MAX = 255  # the Python binding packs timers into one byte

# OSDP keypad data: digits as ASCII, "*" as DEL and "#" as CR
_KEYS = {0x7F: "*", 0x0D: "#"}
_COMPLETION_OK = 0

_LED_COLORS = {
    "off": osdp.CommandLEDColor.Black,
    "red": osdp.CommandLEDColor.Red,
    "green": osdp.CommandLEDColor.Green,
    "amber": osdp.CommandLEDColor.Amber,
}


class OsdpBus:
    """An `async with` OSDP control panel on one serial line.

    Events (card reads, input changes, reader online/offline) come out of `next_event()`;
    `output`, `led` and `buzz` queue commands and may be called from any thread.
    """

    def __init__(
        self,
        port: str,
        readers: list[ReaderConfig],
        *,
        baudrate: int = 115200,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        if not readers:
            raise OsdpError(f"{port}: an OSDP bus needs at least one reader")
        addresses = [r.address for r in readers]
        if len(set(addresses)) != len(addresses):
            raise OsdpError(f"{port}: duplicate reader addresses {addresses}")
        self.port = port
        self.readers = list(readers)
        self._index = {r.address: i for i, r in enumerate(readers)}
        self._channel = SerialChannel(port, baudrate)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[BusEvent] = asyncio.Queue()
        self._cp: Any = None
        self._state: dict[int, tuple[bool, bool]] = dict.fromkeys(addresses, (False, False))
        self._ever_online: set[int] = set()
        self._inputs: dict[int, bytes] = {}
        self._reconnects = 0
        self._retry_min, self._retry_max = retry_min, retry_max
        self._retry_delay = dict.fromkeys(addresses, retry_min)
        self._retry_at: dict[int, float] = {}  # when to restart an offline reader next
        self._enabling: set[int] = set()  # disabled for a restart, to be enabled again
        self._online_since: dict[int, float] = {}  # while online, until the backoff resets
        self._restarts = dict.fromkeys(addresses, 0)
        self._port_reopens = 0
        self._panel_restarts = 0  # a refresh failed: the line's control panel made anew
        self._replies_seen = dict.fromkeys(addresses, 0)  # reply frames when last judged
        self._insecure: set[int] = set()  # reported, until it comes online securely
        self._probe_due: list[int] = []
        self._installing: set[int] = set()  # SCBK-D allowed (EnforceSecure cleared)
        self._keys_pending: dict[int, bytes] = {}  # KEYSET sent, not yet acknowledged
        self._rekeyed: dict[int, float] = {}  # until when a secure channel restart is expected
        self._reported: dict[int, tuple[bool, bool]] = {}  # the state last told as ReaderStatus

    @property
    def counters(self) -> dict[str, int]:
        """Frames and garbled stretches received, bytes each way, reader reconnects, port reopens."""
        frames = self._channel.frames
        return {
            "frames": frames.frames,
            "errors": frames.errors,
            "garbage_bytes": frames.garbage_bytes,
            "bytes_rx": self._channel.bytes_rx,
            "bytes_tx": self._channel.bytes_tx,
            "reconnects": self._reconnects,
            "port_reopens": self._port_reopens,
            "restarts": sum(self._restarts.values()),
            "panel_restarts": self._panel_restarts,
        }

    def restarts(self, address: int) -> int:
        """How many times the bus restarted this reader's session (it was offline)."""
        self._pd(address)
        return self._restarts[address]

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        try:
            self._channel.open()
        except serial.SerialException as exc:
            raise OsdpError(f"cannot open OSDP port {self.port}") from exc
        osdp_sys.set_loglevel(osdp.LogLevel.Error)
        self._cp = self._panel()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"osdp-cp {self.port}", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        self._channel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._cp = None

    async def next_event(self) -> BusEvent:
        return await self._events.get()

    def is_online(self, address: int) -> bool:
        self._pd(address)
        online, secure = self._state[address]
        return online and secure

    def output(
        self, address: int, output_no: int, on: bool, *, timer_ms: int | None = None
    ) -> None:
        """Switch an output (relay); with `timer_ms` it reverts on its own after that long."""
        if timer_ms is None:
            code, ticks = (_OUT_ON if on else _OUT_OFF), 0
        else:
            code, ticks = (_OUT_TEMP_ON if on else _OUT_TEMP_OFF), _ticks(timer_ms, "timer_ms")
        self._submit(
            address,
            "output",
            {
                "command": osdp.Command.Output,
                "output_no": output_no,
                "control_code": code,
                "timer_count": ticks,
            },
        )

    def led(self, address: int, color: str, *, on_ms: int = 500) -> None:
        """Light the reader LED in `color` for `on_ms`, then back to its resting state; "off" clears it."""
        if color not in _LED_COLORS:
            raise OsdpError(
                f"reader {address}: LED color {color!r} is not one of {sorted(_LED_COLORS)}"
            )
        if color == "off":
            cmd = {"temporary": False, "control_code": 1, "on_count": 0, "off_count": 0}
        else:
            ticks = _ticks(on_ms, "on_ms")
            cmd = {
                "temporary": True,
                "control_code": 2,
                "on_count": ticks,
                "off_count": 0,
                "timer_count": ticks,
            }
        cmd |= {
            "command": osdp.Command.LED,
            "reader": 0,
            "led_number": 0,
            "on_color": _LED_COLORS[color],
            "off_color": osdp.CommandLEDColor.Black,
        }
        self._submit(address, "LED", cmd)

    def buzz(self, address: int, *, on_ms: int = 200) -> None:
        self._submit(
            address,
            "buzzer",
            {
                "command": osdp.Command.Buzzer,
                "reader": 0,
                "control_code": 2,  # default tone
                "on_count": _ticks(on_ms, "on_ms"),
                "off_count": 0,
                "rep_count": 1,
            },
        )

    def install(self, address: int, active: bool) -> None:
        """Let the reader at `address` come up with OSDP's install key SCBK-D (and be given
        its configured key by libosdp), or refuse SCBK-D again. An offline reader is
        retried at once rather than on the backoff."""
        pd = self._pd(address)
        if self._cp is None:
            raise OsdpError(f"{self.port}: bus is not running")
        with self._lock:
            if active:
                self._installing.add(address)
                ok = self._cp.clear_flag(pd, osdp.LibFlag.EnforceSecure)
            else:
                self._installing.discard(address)
                ok = self._cp.set_flag(pd, osdp.LibFlag.EnforceSecure)
        if not ok:
            raise OsdpError(f"reader {address} on {self.port}: libosdp refused the flag change")
        if active and not self._state[address][0]:
            self._retry_at[address] = 0.0  # now: the technician is waiting at the door
            self._insecure.discard(address)
            self._wake()

    def installing(self, address: int) -> bool:
        self._pd(address)
        return address in self._installing

    def set_key(self, address: int, key: bytes) -> None:
        """Give the reader a new secure channel key (OSDP KEYSET over the secure channel).
        `ReaderKeyed` follows when it acknowledged (the bus then uses the key),
        `ReaderKeyFailed` when it did not."""
        if len(key) != 16:
            raise OsdpError(f"reader {address}: a secure channel key is 16 bytes, got {len(key)}")
        if address in self._keys_pending:
            raise OsdpError(f"reader {address} on {self.port}: a key change is already under way")
        self._keys_pending[address] = key
        try:
            self._submit(address, "KEYSET", {"command": osdp.Command.Keyset, "type": 1,
                                             "data": key})
        except OsdpError:
            self._keys_pending.pop(address, None)
            raise

    def led_pattern(self, address: int, color: str, *, on_ms: int, off_ms: int = 0,
                    for_ms: int | None = None, off_color: str = "off") -> None:
        """Flash (or light) the reader LED: `on_ms` in `color`, `off_ms` in `off_color`,
        for `for_ms` then back to the resting state, or as the resting state (None)."""
        for name in (color, off_color):
            if name not in _LED_COLORS:
                raise OsdpError(
                    f"reader {address}: LED color {name!r} is not one of {sorted(_LED_COLORS)}")
        cmd: dict[str, Any] = {
            "command": osdp.Command.LED, "reader": 0, "led_number": 0,
            "on_color": _LED_COLORS[color], "off_color": _LED_COLORS[off_color],
            "on_count": _ticks(on_ms, "on_ms"),
            "off_count": _ticks(off_ms, "off_ms") if off_ms else 0,
        }
        if for_ms is None:
            cmd |= {"temporary": False, "control_code": 1}
        else:
            cmd |= {"temporary": True, "control_code": 2, "timer_count": _ticks(for_ms, "for_ms")}
        self._submit(address, "LED", cmd)

    def buzz_pattern(self, address: int, *, on_ms: int, off_ms: int, count: int) -> None:
        """`count` beeps of `on_ms` with `off_ms` between them (0: until told otherwise)."""
        if not 0 <= count <= 255:
            raise OsdpError(f"reader {address}: beep count {count} is outside 0..255")
        self._submit(address, "buzzer", {
            "command": osdp.Command.Buzzer, "reader": 0, "control_code": 2,
            "on_count": _ticks(on_ms, "on_ms"),
            "off_count": _ticks(off_ms, "off_ms") if off_ms else 0, "rep_count": count})

    def buzz_off(self, address: int) -> None:
        """Silence the buzzer (ends a pattern that repeats until told otherwise)."""
        self._submit(address, "buzzer", {
            "command": osdp.Command.Buzzer, "reader": 0, "control_code": 1,
            "on_count": 0, "off_count": 0, "rep_count": 0})

    def _pd(self, address: int) -> int:
        try:
            return self._index[address]
        except KeyError:
            raise OsdpError(f"{self.port}: no reader at address {address}") from None

    def _submit(self, address: int, what: str, cmd: dict[str, Any]) -> None:
        pd = self._pd(address)
        if self._cp is None:
            raise OsdpError(f"{self.port}: bus is not running")
        # libosdp refuses commands for a reader that is not online: say so plainly
        if not self.is_online(address):
            raise OsdpError(f"reader {address} on {self.port} is offline; {what} not sent")
        with self._lock:
            ok = self._cp.submit_command(pd, cmd)
        if not ok:
            raise OsdpError(f"reader {address} on {self.port} refused the {what} command")
        self._wake()

    def _panel(self) -> Any:
        """libosdp's control panel for the line's readers, with the keys they hold now."""
        infos = [
            osdp.PDInfo(
                r.address,
                self._channel,
                scbk=r.scbk,
                name=r.name or f"reader-{r.address}",
                # notifications tell us when libosdp gives a reader up, even one never online
                flags=[osdp.LibFlag.EnforceSecure, osdp.LibFlag.EnableNotification],
            ).get()
            for r in self.readers
        ]
        cp = osdp_sys.ControlPanel(infos)
        cp.set_event_callback(self._on_event)
        cp.set_command_completion_callback(self._on_completion)
        for address in self._installing:
            cp.clear_flag(self._index[address], osdp.LibFlag.EnforceSecure)
        return cp

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or the bus is closing

    # --- refresh thread -------------------------------------------------------------

    def _run(self) -> None:
        watch_port = True
        backoff = _REOPEN_MIN
        failed = _REOPEN_MIN
        while not self._stop.is_set():
            try:
                watch_port, backoff = self._step(watch_port, backoff)
                failed = _REOPEN_MIN
            except Exception:
                # Whatever fails in a refresh (libosdp, a callback) must not end this thread:
                # every reader of the line would stay offline until the agent restarted.
                # libosdp's state after it is unknown: a new panel for the line, on a backoff.
                log.exception("OSDP %s: refresh failed; control panel restarted", self.port)
                self._panel_restarts += 1
                self._track_status(0, 0)
                if self._stop.wait(failed * random.uniform(0.5, 1.0)):
                    return
                failed = min(failed * 2, _REOPEN_MAX)
                self._restart_panel()

    def _restart_panel(self) -> None:
        with self._lock:
            self._cp = None  # torn down before the new one opens the channel's sessions
            self._retry_at.clear()
            self._enabling.clear()
            for address in list(self._keys_pending):
                self._keys_pending.pop(address)
                self._emit(ReaderKeyFailed(address=address, at=time.monotonic(),
                                           reason="control panel restarted before the KEYSET "
                                                  "was acknowledged"))
            self._cp = self._panel()

    def _step(self, watch_port: bool, backoff: float) -> tuple[bool, float]:
        """One turn of the refresh thread: reopen a broken port, or wait for bytes, a command
        or the tick, refresh, and act on what changed."""
        if self._channel.broken:
            return watch_port, self._reopen(backoff)
        fds = [self._wake_r]
        port_fd = self._channel.fileno()
        if watch_port and port_fd is not None:
            fds.append(port_fd)
        readable, _, _ = select.select(fds, [], [], _TICK)
        if self._wake_r in readable:
            try:
                os.read(self._wake_r, 512)
            except BlockingIOError:
                pass
        rx_before = self._channel.bytes_rx
        with self._lock:
            self._cp.refresh()
            status, sc_status = self._cp.status(), self._cp.sc_status()
        # libosdp reads only while it awaits a reply; don't spin on bytes it leaves
        watch_port = port_fd not in readable or self._channel.bytes_rx != rx_before
        self._track_status(status, sc_status)
        self._judge_refused()
        self._retry_offline()
        self._settle()
        if not self._channel.broken:
            backoff = _REOPEN_MIN
        return watch_port, backoff

    def _reopen(self, backoff: float) -> float:
        self._channel.close()
        self._track_status(0, 0)
        if self._stop.wait(backoff * random.uniform(0.5, 1.0)):
            return backoff
        try:
            self._channel.open()
        except serial.SerialException:
            self._channel.broken = True
            return min(backoff * 2, _REOPEN_MAX)
        self._port_reopens += 1
        return _REOPEN_MIN

    def _track_status(self, status: int, sc_status: int) -> None:
        now = time.monotonic()
        for address, pd in self._index.items():
            state = (bool(status >> pd & 1), bool(sc_status >> pd & 1))
            if state != self._state[address]:
                self._state[address] = state
                online, secure = state
                if online and secure:
                    self._insecure.discard(address)
                if online:
                    self._retry_at.pop(address, None)
                    self._online_since[address] = now
                    if address in self._ever_online and address not in self._rekeyed:
                        self._reconnects += 1
                    self._ever_online.add(address)
                else:
                    self._online_since.pop(address, None)
                    if address in self._ever_online and address not in self._rekeyed:
                        self._schedule_retry(address)  # however libosdp came to drop it
            # a new key restarts the secure channel: that short gap is not the reader going
            # offline, unless it lasts past _REKEY_GAP_S
            until = self._rekeyed.get(address)
            if until is not None:
                if until > now and state != (True, True):
                    continue
                if until <= now:
                    del self._rekeyed[address]
            if state != self._reported.get(address, (False, False)):
                self._reported[address] = state
                self._emit(ReaderStatus(address=address, online=state[0], secure=state[1],
                                        at=now, restarts=self._restarts[address]))

    def _schedule_retry(self, address: int) -> None:
        """A restart of `address` after the current backoff, unless one is pending already."""
        if address in self._retry_at:
            return
        delay = self._retry_delay[address]
        self._retry_at[address] = time.monotonic() + delay * random.uniform(0.5, 1.0)
        self._retry_delay[address] = min(delay * 2, self._retry_max)

    def _retry_offline(self) -> None:
        now = time.monotonic()
        for address, at in list(self._retry_at.items()):
            if now < at:
                continue
            del self._retry_at[address]
            pd = self._index[address]
            # enable_pd is refused until a refresh has carried the disable through, and on a
            # shared line one refresh may stop at another reader's exchange: then the enable
            # waits for a later refresh (_settle) instead of leaving the reader disabled
            with self._lock:
                self._cp.disable_pd(pd)
                self._cp.refresh()
                enabled = self._cp.enable_pd(pd)
            if not enabled:
                self._enabling.add(address)
            self._restarts[address] += 1
            # the next restart is already due, should this one not bring the reader back
            self._schedule_retry(address)

    def _settle(self) -> None:
        """Finish restarts libosdp has now carried through; reset the backoff of readers
        online for `_STABLE_S`."""
        for address in list(self._enabling):
            with self._lock:
                done = self._cp.enable_pd(self._index[address])
            if done:
                self._enabling.discard(address)
        now = time.monotonic()
        for address, since in list(self._online_since.items()):
            if now - since >= _STABLE_S:
                del self._online_since[address]
                self._retry_delay[address] = self._retry_min

    def _on_event(self, pd: int, event: dict[str, Any]) -> int:
        # Called by libosdp inside refresh(), on the refresh thread.
        now = time.monotonic()
        address = self.readers[pd].address
        kind = event.get("event")
        if kind == osdp.Event.CardRead:
            bits = int(event.get("length", 0))
            data = bytes(event.get("data", b""))
            card = str(int.from_bytes(data, "big"))
            fmt: CardDataFormat = (
                "wiegand" if event.get("format") == osdp.CardFormat.Wiegand else "raw")
            self._emit(CardRead(address=address, card=card, bits=bits, at=now, data=data,
                                format=fmt))
        elif kind == osdp.Event.KeyPress:
            keys = "".join(_KEYS.get(b, chr(b)) for b in bytes(event.get("data", b""))
                           if 0x30 <= b <= 0x39 or b in _KEYS)
            if keys:
                self._emit(KeyPress(address=address, keys=keys, at=now))
        elif kind == osdp.Event.Status and event.get("type") == osdp.StatusReportType.Local:
            report = bytes(event.get("report", b""))
            self._emit(ReaderLocalStatus(
                address=address, tamper=bool(report[:1] and report[0]),
                power_fail=bool(report[1:2] and report[1]), at=now))
        elif kind == osdp.Event.ManufacturerReply and event.get("vendor_code") == SCAN_VENDOR_CODE:
            self._emit(ScanRead(address=address, data=bytes(event.get("data", b"")), at=now))
        elif kind == osdp.Event.Status and event.get("type") == osdp.StatusReportType.Input:
            self._input_report(address, bytes(event.get("report", b"")), now)
        elif (
            kind == osdp.Event.Notification
            and event.get("type") == osdp.EventNotification.PeripheralDeviceStatus
            and not event.get("arg0")
        ):
            self._schedule_retry(address)
            # offline without having been online (still so before _track_status), yet it
            # answered: judged after this refresh, outside libosdp's callback
            replies = self._channel.frames.replies.get(address, 0)
            answered = replies > self._replies_seen[address]
            self._replies_seen[address] = replies
            if (answered and not self._state[address][0] and address not in self._insecure
                    and address not in self._installing):
                self._insecure.add(address)
                self._probe_due.append(address)
        return 0

    def _on_completion(self, pd: int, command: dict[str, Any], status: int) -> None:
        # Called by libosdp inside refresh(): a KEYSET acknowledged (libosdp has switched the
        # panel to the new key and restarts the secure channel) or not.
        if command.get("command") != osdp.Command.Keyset:
            return
        address = self.readers[pd].address
        key = self._keys_pending.pop(address, None)
        if key is None:
            return
        now = time.monotonic()
        if status == _COMPLETION_OK:
            self._rekeyed[address] = now + _REKEY_GAP_S
            # kept for a control panel made anew (_restart_panel): libosdp holds it now
            self.readers[pd] = dataclasses.replace(self.readers[pd], scbk=key)
            self._emit(ReaderKeyed(address=address, key=key, at=now))
        else:
            self._emit(ReaderKeyFailed(address=address, at=now,
                                       reason=f"KEYSET not acknowledged (libosdp status {status})"))

    def _judge_refused(self) -> None:
        """Report the readers the secure channel refused, probing the default key first."""
        while self._probe_due:
            address = self._probe_due.pop(0)
            if address in self._installing:
                continue
            default = self._accepts_default_key(address)
            self._emit(ReaderInsecure(address=address, at=time.monotonic(),
                                      reason="default_key" if default else "secure_channel_failed"))

    def _accepts_default_key(self, address: int) -> bool:
        """A panel of our own keyed with SCBK-D and polling only `address`, for up to _PROBE_S;
        the main panel holds the reader offline meanwhile and is not refreshed, so on a shared
        line the other readers are not polled (nor answer) until the probe ends: they wait
        a moment, they do not drop (measured on a simulated line). Without EnforceSecure,
        libosdp retries a failed handshake with SCBK-D (the install mode's key): a reader
        keyed with SCBK-D, or in install mode, brings the secure channel up. The probe stops
        at that notice, before libosdp would send the reader a new key (measured with
        libosdp 3.2.9: the KEYSET never goes out)."""
        if self._channel.broken:
            return False
        secured: list[bool] = []

        def on_event(_pd: int, event: dict[str, Any]) -> int:
            if (event.get("event") == osdp.Event.Notification
                    and event.get("type") == osdp.EventNotification.SecureChannelStatus
                    and event.get("arg0")):
                secured.append(True)
            return 0

        info = osdp.PDInfo(address, self._channel, scbk=DEFAULT_SCBK, name="default-key-probe",
                           flags=[osdp.LibFlag.EnableNotification]).get()
        probe = osdp_sys.ControlPanel([info])
        probe.set_event_callback(on_event)
        deadline = time.monotonic() + _PROBE_S
        try:
            while time.monotonic() < deadline and not self._stop.is_set():
                probe.refresh()
                if secured:
                    return True
                if probe.status() & 1:
                    return False  # online without a secure channel: not with SCBK-D either
                port_fd = self._channel.fileno()
                if port_fd is None:
                    return False
                select.select([port_fd], [], [], _TICK)
            return False
        finally:
            del probe  # torn down: the reader's next handshake is the main panel's again

    def _input_report(self, address: int, report: bytes, now: float) -> None:
        before = self._inputs.get(address, b"")
        self._inputs[address] = report
        for input_no, value in enumerate(report):
            was = before[input_no] if input_no < len(before) else 0
            if bool(value) != bool(was):
                self._emit(
                    InputChanged(address=address, input_no=input_no, active=bool(value), at=now)
                )

    def _emit(self, event: BusEvent) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            pass  # the event loop has closed: the bus is shutting down


def _ticks(ms: int, name: str) -> int:
    ticks = -(-ms // _TIMER_UNIT_MS)  # round up: never shorter than asked
    if not 0 < ticks <= _TIMER_MAX:
        raise OsdpError(f"{name}={ms} is outside 1..{_TIMER_MAX * _TIMER_UNIT_MS} ms")
    return ticks
