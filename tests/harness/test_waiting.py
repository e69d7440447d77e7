"""until: the tests' one way to wait for what must come (tests/support/waiting.py)."""

from __future__ import annotations

import time

import pytest

from tests.support.waiting import until


async def test_returns_what_the_check_found_once_it_holds() -> None:
    calls = []

    def check() -> list[int]:
        calls.append(1)
        return calls if len(calls) >= 3 else []

    assert await until(check, "three calls", every=0.01) == [1, 1, 1]


async def test_awaits_an_async_check() -> None:
    started = time.monotonic()

    async def check() -> float | None:
        elapsed = time.monotonic() - started
        return elapsed if elapsed > 0.05 else None

    assert await until(check, every=0.01) > 0.05


async def test_fails_after_its_timeout_naming_what_it_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"the door to open: not within 0\.2 s"):
        await until(lambda: False, "the door to open", timeout=0.2, every=0.02)
    assert 0.2 <= time.monotonic() - started < 2
