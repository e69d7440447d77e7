"""The access package's small exception tree."""

from __future__ import annotations


class AccessError(Exception):
    """Base of every error raised by `edge.access`."""


class SnapshotRejectedError(AccessError):
    """A permission snapshot was refused; the snapshot held before is kept unchanged."""

    def __init__(self, reason: str, *, offered_version: int, held_version: int) -> None:
        super().__init__(
            f"permission snapshot v{offered_version} refused (holding v{held_version}): {reason}"
        )
        self.reason = reason
        self.offered_version = offered_version
        self.held_version = held_version


class CacheStorageError(AccessError):
    """The permission cache's SQLite file could not be read or written."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"permission cache {path}: {reason}")
        self.path = path
        self.reason = reason
