"""Plate-recognition cameras that push their readings over HTTP: each vendor's format is one
small adapter (`PushFormat`) in a registry; the HTTP endpoint itself lives with the lanes."""

from edge.drivers.lpr.errors import PushError
from edge.drivers.lpr.formats import PushFormat, format_names, push_format, register
from edge.drivers.lpr.models import PlateReading, PushAnswer
from edge.drivers.lpr.vzenith import VZENITH, VzenithFormat

__all__ = [
    "VZENITH",
    "PlateReading",
    "PushAnswer",
    "PushError",
    "PushFormat",
    "VzenithFormat",
    "format_names",
    "push_format",
    "register",
]
