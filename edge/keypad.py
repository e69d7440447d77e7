"""A door's keypad for card + PIN: keys gathered into a PIN, the card waiting for it, and the
wrong PINs in a row that raise the door's alarm. Pure logic; the door controller drives it
with the monotonic clock."""

from __future__ import annotations

from dataclasses import dataclass

from edge.access.decision import Decision
from wire import ResidentPin

PIN_TIMEOUT_S = 10.0  # from the granted card to the PIN's "#"
MAX_FAILURES = 3  # wrong PINs in a row at one door before its alarm
FAILURE_MEMORY_S = 300.0  # a wrong PIN is forgotten after this long
_MAX_KEYS = 16


@dataclass(frozen=True, slots=True)
class PinWait:
    """A card the door would grant, waiting for its holder's PIN."""

    card: str
    decision: Decision
    record: ResidentPin
    deadline: float


class Keypad:
    def __init__(self) -> None:
        self.waiting: PinWait | None = None
        self._keys = ""
        self._failures: list[float] = []

    def expect(self, wait: PinWait) -> None:
        """A new card replaces any earlier one still waiting; keys typed before it are dropped."""
        self.waiting = wait
        self._keys = ""

    def feed(self, keys: str, now: float) -> tuple[PinWait, str] | None:
        """Keys pressed; the waiting card and its PIN once "#" ends the entry ("*" clears it).
        Keys with no card waiting are dropped."""
        for key in keys:
            if self.waiting is None or now >= self.waiting.deadline:
                self._keys = ""
                continue
            if key == "*":
                self._keys = ""
            elif key == "#":
                wait, pin = self.waiting, self._keys
                self.waiting, self._keys = None, ""
                return wait, pin
            elif len(self._keys) < _MAX_KEYS:
                self._keys += key
        return None

    def expired(self, now: float) -> PinWait | None:
        """The waiting card, once its time for a PIN ran out."""
        wait = self.waiting
        if wait is None or now < wait.deadline:
            return None
        self.waiting, self._keys = None, ""
        return wait

    def failed(self, now: float) -> bool:
        """One more wrong PIN; True when it is the MAX_FAILURES-th in a row (then counting
        starts again)."""
        self._failures = [t for t in self._failures if now - t < FAILURE_MEMORY_S] + [now]
        if len(self._failures) >= MAX_FAILURES:
            self._failures = []
            return True
        return False

    def succeeded(self) -> None:
        self._failures = []

    @property
    def next_deadline(self) -> float | None:
        return None if self.waiting is None else self.waiting.deadline
