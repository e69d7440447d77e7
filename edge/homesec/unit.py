"""One unit's alarm: arm modes, exit and entry delays, 24-hour zones — decided at the edge.

Pure logic over an injected monotonic clock: the panel's zone states come in (`zones`), the
resident's or the schedule's orders come in (`arm`), time passes (`tick`); what the hub must
know goes out through `emit` (arm-state changes and alarms only, never a zone's comings and
goings). Away arms every door, window and motion zone; stay arms the doors and windows only
(people move inside). The entry door is delayed: opening it while armed starts the entry
delay, and motion meanwhile is the resident walking to the keypad; any other armed zone is an
instant intrusion. Smoke, gas, water-leak and panic zones are armed always.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from edge.sensors.models import SecurityZone
from wire.homesec import (
    ALARM_OF_KIND,
    TWENTY_FOUR_HOUR,
    AlarmType,
    ArmedBy,
    ArmMode,
    HomeSecurityData,
    HomeSecurityEventType,
    PanelSettings,
    arm_refusal,
)

Phase = Literal["disarmed", "exit_delay", "armed", "entry_delay", "alarm"]
Emit = Callable[[HomeSecurityData], None]

_ARMED_KINDS: dict[str, frozenset[str]] = {
    "away": frozenset({"door_contact", "window_contact", "pir"}),
    "stay": frozenset({"door_contact", "window_contact"}),
    "disarmed": frozenset(),
}


class ArmRefused(Exception):
    """An arm order that cannot be carried out; the message (wire.homesec.ARM_REFUSALS) says
    why, naming the zones."""


class UnitAlarm:
    def __init__(self, zones: Iterable[SecurityZone], settings: PanelSettings, emit: Emit,
                 clock: Callable[[], float]) -> None:
        self.zones = {z.zone: z for z in zones}
        self.settings = settings
        self._emit = emit
        self._clock = clock
        self.mode: ArmMode = "disarmed"
        self.phase: Phase = "disarmed"
        self.bypassed: set[int] = set()
        self.active: set[int] = set()  # zones active at the last poll
        self.polled = False  # the panel has answered since it (re)started
        self._exit_ends: float | None = None
        self._entry_ends: float | None = None

    # --- orders -------------------------------------------------------------------------
    def arm(self, mode: ArmMode, by: ArmedBy, bypass: Iterable[int] = ()) -> str:
        """Arm `mode` (or disarm); returns what was done, raises ArmRefused naming why not."""
        if mode == "disarmed":
            return self.disarm(by)
        bypass = set(bypass)
        unknown = sorted(bypass - set(self.zones))
        if unknown:
            raise ArmRefused(arm_refusal("unknown_zone", zones=", ".join(map(str, unknown))))
        always = sorted(z for z in bypass if self.zones[z].kind in TWENTY_FOUR_HOUR)
        if always:
            raise ArmRefused(arm_refusal("bypass_24h", zones=", ".join(map(self._label, always))))
        if not self.polled:
            raise ArmRefused(arm_refusal("panel_silent"))
        if self.phase != "disarmed" and self.mode == mode and bypass <= self.bypassed:
            return f"already armed {mode}"
        # the entry door may stand open: it is the way out during the exit delay
        open_zones = sorted(z for z in self.active - bypass
                            if self._armable(z, mode) and not self.zones[z].entry)
        if open_zones:
            self._send("arm_refused", mode=self.mode, by=by, open_zones=open_zones,
                       detail=f"arm {mode} refused: " + ", ".join(map(self._label, open_zones)))
            raise ArmRefused(arm_refusal("zone_open", zones=", ".join(map(self._label, open_zones))))
        self.mode, self.bypassed = mode, bypass
        self._entry_ends = None
        delay = self.settings.exit_delay_s
        if delay > 0:
            self.phase, self._exit_ends = "exit_delay", self._clock() + delay
            self._send("exit_delay", by=by, delay_s=delay)
            return f"arming {mode}: exit delay {delay:g} s"
        self.phase, self._exit_ends = "armed", None
        self._send("armed", by=by)
        return f"armed {mode}"

    def disarm(self, by: ArmedBy) -> str:
        if self.phase == "disarmed":
            return "already disarmed"
        self.mode, self.phase, self.bypassed = "disarmed", "disarmed", set()
        self._exit_ends = self._entry_ends = None
        self._send("disarmed", by=by)
        return "disarmed"

    def restore(self, mode: ArmMode, bypassed: Iterable[int]) -> None:
        """Take back the arm state held before a restart (no exit delay: it was armed)."""
        self.mode, self.bypassed = mode, set(bypassed) & set(self.zones)
        self.phase = "disarmed" if mode == "disarmed" else "armed"

    # --- inputs -------------------------------------------------------------------------
    def zones_polled(self, states: Mapping[int, str]) -> None:
        """The panel's zone states now; each zone that became active or normal is judged."""
        self.polled = True
        now_active = {z for z, s in states.items() if s == "active" and z in self.zones}
        for zone in sorted(now_active - self.active):
            self._opened(zone)
        for zone in sorted(self.active - now_active):
            if self.zones[zone].kind in TWENTY_FOUR_HOUR:
                self._send_alarm("alarm_restored", zone)
        self.active = now_active

    def panel_lost(self) -> None:
        """The panel stopped answering: its zones are unknown until it answers again."""
        self.polled = False

    def tick(self) -> None:
        now = self._clock()
        if self.phase == "exit_delay" and self._exit_ends is not None and now >= self._exit_ends:
            self.phase, self._exit_ends = "armed", None
            self._send("armed")
            # what is open when the exit delay ends, other than the entry, is an intrusion
            for zone in sorted(self.active):
                if self._armable(zone, self.mode) and not self.zones[zone].entry:
                    self._intrusion(zone)
        if self.phase == "entry_delay" and self._entry_ends is not None and now >= self._entry_ends:
            self._entry_ends = None
            entry = next((z.zone for z in self.zones.values() if z.entry), None)
            self._intrusion(entry or min(self.zones),
                            detail="entry delay ended without a disarm")

    # --- judging ------------------------------------------------------------------------
    def _opened(self, zone: int) -> None:
        kind = self.zones[zone].kind
        if kind in TWENTY_FOUR_HOUR:
            self._send_alarm("alarm", zone)
            return
        if not self._armable(zone, self.mode) or self.phase == "disarmed":
            return
        entry = self.zones[zone].entry
        follower = entry or kind == "pir"  # on the way to or from the keypad
        if self.phase in ("exit_delay", "entry_delay") and follower:
            return
        if self.phase == "armed" and entry:
            self.phase = "entry_delay"
            self._entry_ends = self._clock() + self.settings.entry_delay_s
            self._send("entry_delay", zone=zone, delay_s=self.settings.entry_delay_s)
            return
        self._intrusion(zone)

    def _intrusion(self, zone: int, detail: str | None = None) -> None:
        self.phase = "alarm"
        self._send_alarm("alarm", zone, alarm="intrusion", detail=detail)

    def _armable(self, zone: int, mode: ArmMode) -> bool:
        return self.zones[zone].kind in _ARMED_KINDS[mode] and zone not in self.bypassed

    def _label(self, zone: int) -> str:
        return f"{zone} ({self.zones[zone].name_en})"

    # --- reporting ----------------------------------------------------------------------
    def _send_alarm(self, event: HomeSecurityEventType, zone: int,
                    alarm: AlarmType | None = None, detail: str | None = None) -> None:
        z = self.zones[zone]
        kind_alarm = alarm or ALARM_OF_KIND[z.kind]
        self._send(event, alarm=kind_alarm, zone=zone, zone_kind=z.kind, zone_en=z.name_en,
                   zone_zh=z.name_zh, silent=kind_alarm == "panic", detail=detail)

    def _send(self, event: HomeSecurityEventType, **fields: object) -> None:
        fields.setdefault("mode", self.mode)
        if "zone" in fields and "zone_kind" not in fields:
            z = self.zones[int(str(fields["zone"]))]
            fields.update(zone_kind=z.kind, zone_en=z.name_en, zone_zh=z.name_zh)
        self._emit(HomeSecurityData.model_validate({
            "event": event, "unit": self.settings.unit, "floor": self.settings.floor,
            "bypassed": sorted(self.bypassed), **fields}))


__all__ = ["ArmRefused", "Phase", "UnitAlarm"]
