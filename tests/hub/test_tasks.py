"""The hub's periodic parts: a run that fails is tried again next round, and exit stops it."""

from __future__ import annotations

import asyncio

import pytest

from hub.tasks import Periodic


class Flaky(Periodic):
    task_name = "flaky"

    def __init__(self) -> None:
        super().__init__(0.01)
        self.calls = 0

    async def run_once(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the database is away")


async def test_a_failed_run_is_retried_and_exit_stops_the_loop() -> None:
    job = Flaky()
    async with job:
        async with asyncio.timeout(5):
            while job.calls < 3:
                await asyncio.sleep(0.01)
    stopped_at = job.calls
    await asyncio.sleep(0.05)
    assert job.calls == stopped_at  # nothing runs after exit


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s must be positive"):
        Periodic(0)
