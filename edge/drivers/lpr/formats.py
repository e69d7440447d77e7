"""Vendors' push formats: one small adapter each, found by name in a registry."""

from __future__ import annotations

from typing import Protocol

from edge.drivers.lpr.errors import PushError
from edge.drivers.lpr.models import PlateReading, PushAnswer


class PushFormat(Protocol):
    """A vendor's HTTP push: the request body in, the answer (open the barrier or not) out."""

    name: str

    def parse(self, body: bytes, content_type: str) -> PlateReading:
        """The reading, or PushError naming what is wrong (nothing else raised)."""
        ...

    def answer(self, reading: PlateReading, open_barrier: bool) -> PushAnswer: ...

    def heartbeat(self, body: bytes) -> PushAnswer | None:
        """None when the vendor's cameras send no heartbeat; else checks the body (PushError)
        and returns the answer that leaves the barrier down (`heartbeat_answer(False)`)."""
        ...

    def heartbeat_answer(self, open_barrier: bool) -> PushAnswer:
        """The answer to a heartbeat; True works the camera's relay (a guard's open)."""
        ...


_FORMATS: dict[str, PushFormat] = {}


def register(fmt: PushFormat) -> PushFormat:
    if fmt.name in _FORMATS:
        raise ValueError(f"push format {fmt.name!r} is registered twice")
    _FORMATS[fmt.name] = fmt
    return fmt


def push_format(name: str) -> PushFormat:
    try:
        return _FORMATS[name]
    except KeyError:
        raise PushError(f"unknown push format {name!r}; known: {', '.join(sorted(_FORMATS))}") \
            from None


def format_names() -> list[str]:
    return sorted(_FORMATS)
