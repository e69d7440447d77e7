"""The reader's half of Bluetooth opening, beside the OSDP door simulator.

A real BLE reader advertises a GATT service; when a phone connects it writes the controller's
challenge (nonce, door, time) to the phone, reads back the signed answer and passes it to the
controller, which verifies it against the phone key cached in its permission snapshot. Here
the radio is an in-process channel: two callables stand for the controller's side
(`EdgeAgent.ble_challenge` / `EdgeAgent.ble_answer`), and `approach` plays one connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from simulators.phone import PhoneSimulator
from wire.tokens import BleAnswer, BleChallenge

R = TypeVar("R")  # what the controller answers: its decision


class BleReaderSimulator(Generic[R]):
    def __init__(self, door: str, challenge: Callable[[str], BleChallenge],
                 submit: Callable[[str, BleAnswer], R]) -> None:
        self.door = door
        self._challenge = challenge
        self._submit = submit
        self.last_challenge: BleChallenge | None = None

    def challenge(self) -> BleChallenge:
        """Ask the controller for a fresh challenge (a phone came into range)."""
        self.last_challenge = self._challenge(self.door)
        return self.last_challenge

    def submit(self, answer: BleAnswer) -> R:
        """Hand the phone's answer to the controller; its decision comes back."""
        return self._submit(self.door, answer)

    def approach(self, phone: PhoneSimulator) -> R:
        """One connection: challenge, the phone signs, the controller decides."""
        return self.submit(phone.answer(self.challenge()))
