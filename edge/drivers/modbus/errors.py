"""The Modbus driver's errors."""


class ModbusError(Exception):
    """A Modbus request failed: no reply, a garbled reply, an exception reply or no link."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
