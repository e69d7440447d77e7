"""The camera driver's one error."""


class CameraError(Exception):
    """A camera source cannot be opened or read; the message names the source and why."""
