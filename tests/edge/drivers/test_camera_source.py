"""The camera driver on real OpenCV: a rendered video file read frame by frame, an MJPEG
HTTP stream (the simulator) that drops and comes back, a consumer too slow for the stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.drivers.camera import CameraSource, FrameQueue, SourceConfig, SourceStatus
from simulators.camera_scene import MjpegServer, Step, write_video
from tests.support.services import free_port
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(60)


def test_the_queue_drops_the_oldest_frame_for_a_new_one() -> None:
    from edge.drivers.camera import Frame

    queue = FrameQueue(2)
    dropped = [queue.put(Frame(None, n, 0.0)) for n in (1, 2, 3, 4)]
    assert dropped == [False, False, True, True]
    assert [queue.get(0.1).seq for _ in range(2)] == [3, 4]  # type: ignore[union-attr]
    assert queue.get(0.01) is None


async def test_a_video_file_is_read_frame_by_frame_to_its_end(tmp_path: Path) -> None:
    path = write_video(tmp_path / "scene.avi", [Step("idle", 12), Step("walk", 12)])
    statuses: list[SourceStatus] = []
    config = SourceConfig(name="cam1", source=str(path), realtime=False, queue_frames=1)
    seqs = []
    with CameraSource(config, statuses.append) as source:
        while (frame := await asyncio.to_thread(source.frames.get, 2.0)) is not None:
            assert frame.image.shape == (480, 640, 3)
            seqs.append(frame.seq)
            if source.ended and len(seqs) == 24:
                break
    assert seqs == list(range(1, 25))  # backpressure: a file loses no frame
    assert source.counters.dropped == 0
    assert [s.online for s in statuses] == [True, False]
    assert statuses[-1].reason == "end of file"


async def test_a_dropped_stream_is_reopened_with_backoff() -> None:
    statuses: list[SourceStatus] = []
    async with MjpegServer([Step("idle", 10)], fps=20) as server:
        config = SourceConfig(name="cam1", source=server.url, backoff_min_s=0.2,
                              backoff_max_s=0.5)
        source = CameraSource(config, statuses.append)
        source.__enter__()
        try:
            await until(lambda: source.counters.frames >= 10, "frames from the stream", timeout=10)
            await server.drop()
            await until(lambda: len(statuses) >= 3, "offline and back online", timeout=15)
            before = source.counters.frames
            await until(lambda: source.counters.frames > before + 5, "frames again", timeout=10)
        finally:
            await asyncio.to_thread(source.close)
    assert [s.online for s in statuses[:3]] == [True, False, True]
    assert statuses[1].reason
    assert source.counters.reconnects >= 1 and source.counters.errors >= 1


async def test_a_slow_consumer_loses_old_frames_not_the_stream() -> None:
    async with MjpegServer([Step("idle", 10)], fps=30) as server:
        source = CameraSource(SourceConfig(name="cam1", source=server.url, queue_frames=2))
        source.__enter__()
        try:
            await until(lambda: source.counters.frames >= 20, "frames", timeout=10)
            assert source.counters.dropped >= source.counters.frames - 2 - 1
            newest = source.counters.frames
            frame = await asyncio.to_thread(source.frames.get, 1.0)
            assert frame is not None and frame.seq >= newest - 2  # a recent one, not the first
        finally:
            await asyncio.to_thread(source.close)


async def test_an_unreachable_stream_is_reported_once_and_retried() -> None:
    statuses: list[SourceStatus] = []
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    config = SourceConfig(name="cam1", source=url, backoff_min_s=0.05, backoff_max_s=0.1,
                          open_timeout_s=1)
    source = CameraSource(config, statuses.append)
    source.__enter__()
    try:
        await until(lambda: source.counters.errors >= 3, "three failed opens", timeout=15)
    finally:
        await asyncio.to_thread(source.close)
    assert len(statuses) == 1 and not statuses[0].online
    assert "cannot open" in statuses[0].reason
