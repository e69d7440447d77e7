class WireError(ValueError):
    """A message that does not follow the contract; `reason` says what and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
