"""The DL/T 645 driver's errors."""


class FrameError(ValueError):
    """Bytes that are not one well-formed DL/T 645 frame; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MeterError(Exception):
    """A read from one meter failed: no reply, a garbled or foreign reply, or an error answer."""

    def __init__(self, meter: str, message: str) -> None:
        super().__init__(f"{meter}: {message}")
        self.meter = meter
