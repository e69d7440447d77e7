"""Waiting in tests for what must come: poll a check until it holds, or fail naming it."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

# Long enough for a loaded CI machine (two cores, three test workers, PostgreSQL and Chromium
# beside); a check that holds returns at once, so only a failing test waits this long.
PATIENCE_S = 15.0


async def until(check: Callable[[], Any], what: str = "", *,
                timeout: float = PATIENCE_S, every: float = 0.05) -> Any:
    """Call `check` (plain or async) every `every` seconds until it returns something true,
    and return that; after `timeout` seconds fail with an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what or check}: not within {timeout} s")
        await asyncio.sleep(every)
