"""Stopping the edge's background tasks: every one stops, even one that lets a cancel pass."""

from __future__ import annotations

import asyncio

import pytest

from edge.tasks import Tasks, stop


async def _ignores_one_cancel(stopped: list[str]) -> None:
    """A loop that lets one cancel pass, as a task inside Python 3.11's wait_for (pymodbus's
    requests) does when the cancel lands as the reply arrives."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        pass  # lost
    try:
        await asyncio.sleep(60)
    finally:
        stopped.append("stopped")


async def test_stop_cancels_again_a_task_that_lets_a_cancel_pass(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.tasks.RECANCEL_S", 0.05)
    stopped: list[str] = []
    stubborn = asyncio.create_task(_ignores_one_cancel(stopped), name="modbus-poll")
    plain = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(stop(stubborn, None, plain))
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert done and stopping.result() is None
    assert stubborn.cancelled() and plain.cancelled() and stopped == ["stopped"]
    assert "'modbus-poll' went on after it was cancelled" in caplog.text


async def test_stop_raises_what_a_task_ended_with() -> None:
    async def crashes() -> None:
        raise OSError("serial port gone")

    crashed = asyncio.create_task(crashes())
    running = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)
    with pytest.raises(OSError, match="serial port gone"):
        await stop(crashed, running)
    assert running.cancelled()  # the others are stopped first


async def test_tasks_cancel_stops_every_spawned_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.tasks.RECANCEL_S", 0.05)
    tasks = Tasks()
    stopped: list[str] = []
    tasks.spawn(_ignores_one_cancel(stopped), "a")
    tasks.spawn(asyncio.sleep(60), "b")
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await tasks.cancel()
    assert stopped == ["stopped"]
