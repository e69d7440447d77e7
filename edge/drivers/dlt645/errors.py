"""The DL/T 645 driver's errors."""

from edge.drivers import meter_frame


class FrameError(meter_frame.FrameError):
    """Bytes that are not one well-formed DL/T 645 frame; `reason` says what is wrong."""


class MeterError(Exception):
    """A read from one meter failed: no reply, a garbled or foreign reply, or an error answer."""

    def __init__(self, meter: str, message: str) -> None:
        super().__init__(f"{meter}: {message}")
        self.meter = meter
