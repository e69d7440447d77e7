"""What an installation change needs from the edge-configuration publisher: a non-blocking
nudge naming the edges to recompile and push (after the change committed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class ConfigPublisher(Protocol):
    def edges_changed(self, site_id: str, edges: Iterable[int]) -> None: ...


__all__ = ["ConfigPublisher"]
