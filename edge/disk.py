"""Free space under the edge's data folder: low is reported once, and once when it is back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@dataclass
class DiskWatch:
    path: Path
    low_bytes: int
    free: Callable[[Path], int] = field(default=free_bytes)  # tests inject a full disk here
    low: bool = False

    def check(self) -> tuple[Literal["disk_low", "disk_ok"], int] | None:
        """The change since the last check with the free bytes now, or None if none."""
        free = self.free(self.path)
        low = free < self.low_bytes
        if low == self.low:
            return None
        self.low = low
        return ("disk_low" if low else "disk_ok"), free
