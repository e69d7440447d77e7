"""The plate-camera driver's one error."""


class PushError(Exception):
    """A camera's push cannot be read; the message names the field and why."""
