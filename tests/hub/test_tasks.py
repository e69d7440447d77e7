"""The hub's periodic parts: a run that fails is tried again next round, and exit stops it."""

from __future__ import annotations

import asyncio

import pytest

from hub.tasks import Periodic, cancel_when_idle


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


class Slow(Periodic):
    """A round that waits for `release` mid-way, like a transaction waiting on the database."""

    task_name = "slow"

    def __init__(self) -> None:
        super().__init__(60)
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.finished = 0

    async def run_once(self) -> None:
        self.started.set()
        await self.release.wait()
        self.finished += 1


async def test_exit_lets_a_round_under_way_finish() -> None:
    job = Slow()
    async with asyncio.timeout(5):
        async with job:
            await job.started.wait()
            asyncio.get_running_loop().call_later(0.05, job.release.set)
    assert job.finished == 1  # not cancelled mid-round


async def test_exit_cancels_a_round_that_outlasts_the_grace() -> None:
    job = Slow()
    job.stop_grace_s = 0.05
    async with asyncio.timeout(5):
        async with job:
            await job.started.wait()
    assert job.finished == 0 and job._task is None


async def test_cancel_when_idle_does_not_wait_for_an_idle_task() -> None:
    idle = asyncio.Event()
    idle.set()
    task = asyncio.create_task(asyncio.sleep(60))
    async with asyncio.timeout(1):
        await cancel_when_idle(task, idle, grace_s=30)
    assert task.cancelled()
