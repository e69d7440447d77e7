class WireError(ValueError):
    """A message that does not follow the contract; `reason` says what and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(ValueError):
    """A validator's refusal with a text code and its parameters besides the English, so
    that the hub can say it in the reader's language (hub/texts: the code's words)."""

    def __init__(self, code: str, english: str, **params: object) -> None:
        super().__init__(english)
        self.code = code
        self.params = params
