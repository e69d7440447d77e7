"""What a door's reader shows and sounds: LED and buzzer patterns, as data.

A moment (granted, denied, waiting for a PIN) lights the LED for a while and then the reader
returns to its resting pattern; the resting pattern follows the door's state (normal,
held open, forced open, locked down, released for fire). Times in ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Moment = Literal["granted", "denied", "pin_wait"]
Resting = Literal["normal", "held_open", "forced_open", "lockdown", "fire_release"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Led:
    color: str
    on_ms: int
    off_ms: int = 0
    off_color: str = "off"
    for_ms: int | None = None  # None: the resting pattern


@dataclass(frozen=True, kw_only=True, slots=True)
class Beeps:
    on_ms: int
    off_ms: int
    count: int  # 0: until the next pattern


@dataclass(frozen=True, kw_only=True, slots=True)
class Signal:
    led: Led
    beeps: Beeps | None = None


MOMENTS: dict[Moment, Signal] = {
    "granted": Signal(led=Led(color="green", on_ms=1000, for_ms=1000),
                      beeps=Beeps(on_ms=100, off_ms=0, count=1)),
    "denied": Signal(led=Led(color="red", on_ms=1000, for_ms=1000),
                     beeps=Beeps(on_ms=100, off_ms=100, count=3)),
    # amber blinking while the keypad waits for the PIN
    "pin_wait": Signal(led=Led(color="amber", on_ms=200, off_ms=200, for_ms=10_000),
                       beeps=Beeps(on_ms=100, off_ms=0, count=1)),
}

RESTING: dict[Resting, Signal] = {
    "normal": Signal(led=Led(color="off", on_ms=100)),
    "held_open": Signal(led=Led(color="amber", on_ms=500, off_ms=500),
                        beeps=Beeps(on_ms=200, off_ms=1800, count=0)),
    "forced_open": Signal(led=Led(color="red", on_ms=100, off_ms=100),
                          beeps=Beeps(on_ms=500, off_ms=500, count=0)),
    "lockdown": Signal(led=Led(color="red", on_ms=100)),
    # egress free: green blinking, silent (the fire panel sounds the building)
    "fire_release": Signal(led=Led(color="green", on_ms=500, off_ms=500)),
}
