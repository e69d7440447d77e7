"""Camera analysis benchmark: analysed frames per second for one 640x480 camera on one core
(QR + motion + tamper, as a gate camera with a zone runs them), and the edge agent's memory
with four cameras streaming MJPEG at 15 fps.

    .venv/bin/python bench/camera_fps.py [--frames N] [--seconds S]

Part 1 pins the process to one CPU (sched_setaffinity, like `taskset -c 0`) with
cv2.setNumThreads(1) and times FrameAnalyser.analyse on rendered frames (a person walking, a
QR code held up, idle): per-frame p50/p99 and frames/s, analysis alone and with the decoding
of the video file included (the driver's reader thread, frame by frame). Target: >= 15 fps.
Part 2 runs the real EdgeAgent (embedded broker, no doors) in a child process, with 0 and
then 4 cameras on the simulator's MJPEG streams, and prints its RSS and analysed fps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root
from edge.cameras.analysis import FrameAnalyser
from edge.cameras.config import CameraConfig
from edge.drivers.camera import CameraSource, SourceConfig
from harness.report import report
from harness.stats import summarize
from simulators.camera_scene import CameraScene, MjpegServer, Step, write_video

TOKEN = "Aa0_-" * 24  # 120 characters, like a signed token
SCENARIO = [Step("idle", 20), Step("walk", 40), Step("qr", 20, text=TOKEN), Step("idle", 20)]
ZONE = [[0.1, 0.3], [0.9, 0.3], [0.9, 1.0], [0.1, 1.0]]


def camera_config(source: str, **extra: Any) -> dict[str, Any]:
    return {"id": "cam1", "source": source, "door": "B1-main", "clip_frames": 0,
            "zones": [{"name": "lobby", "polygon": ZONE, "cooldown_s": 0}], **extra}


def pin_one_core() -> str:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"CPU {cpu}"
    return "unpinned"


def analysis_only(frames: int) -> list[float]:
    scene = CameraScene()
    rendered = list(scene.render(SCENARIO))
    analyser = FrameAnalyser(CameraConfig.model_validate(camera_config("bench")))
    for i, frame in enumerate(rendered[:10]):  # warm up: learn the reference view
        analyser.analyse(frame, i / 15)
    times = []
    for i in range(frames):
        frame = rendered[i % len(rendered)]
        start = time.perf_counter()
        analyser.analyse(frame, (i + 10) / 15)
        times.append(time.perf_counter() - start)
    return times


def with_decoding(path: Path, frames: int) -> tuple[int, float]:
    analyser = FrameAnalyser(CameraConfig.model_validate(camera_config(str(path))))
    config = SourceConfig(name="cam1", source=str(path), realtime=False, loop=True)
    done = 0
    start = time.perf_counter()
    with CameraSource(config) as source:
        while done < frames:
            frame = source.frames.get(2.0)
            if frame is None:
                break
            analyser.analyse(frame.image, frame.monotonic)
            done += 1
    return done, time.perf_counter() - start


def part_one(frames: int) -> None:
    where = pin_one_core()
    times = analysis_only(frames)
    print(f"one 640x480 camera, one core ({where}, cv2 threads {cv2.getNumThreads()}), "
          f"QR + motion + tamper, {frames} frames:")
    report("  analysis only", f"{summarize(times, 'ms', 1000).text(1)} "
           f"-> {len(times) / sum(times):.1f} frames/s")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "scene.avi", SCENARIO)
        done, seconds = with_decoding(path, frames)
    print(f"  with MJPEG decoding:  {done} frames in {seconds:.2f} s "
          f"-> {done / seconds:.1f} frames/s   (target >= 15)")


# --- part 2: the agent's memory with four cameras -------------------------------------------

def rss_kb() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    return {k: int(line.split()[1]) for line in status.splitlines()
            for k in ("VmRSS", "VmHWM") if line.startswith(k + ":")}


async def child(urls: list[str], mqtt_port: int, seconds: float) -> None:
    from edge.agent import EdgeAgent
    from edge.config import EdgeConfig

    with tempfile.TemporaryDirectory() as tmp:
        config = EdgeConfig.model_validate({
            "site": "bench", "edge": "bench-edge", "data_dir": tmp,
            "mqtt": {"port": mqtt_port, "username": "bench-edge", "wait_for_hub": False},
            "cameras": [{"id": f"cam{i}", "source": url, "clip_frames": 16,
                         "zones": [{"name": "lobby", "polygon": ZONE}]}
                        for i, url in enumerate(urls)],
        })
        async with EdgeAgent(config) as agent:
            await asyncio.sleep(seconds)
            fps = {}
            if agent.cameras is not None:
                fps = {c: round(cam.analysed / seconds, 1)
                       for c, cam in agent.cameras.cameras.items()}
            print(json.dumps({**rss_kb(), "analysed_fps": fps}), flush=True)


async def part_two(seconds: float) -> None:
    import socket

    from lintel.broker import EmbeddedBroker

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    steps = [Step("idle", 15), Step("walk", 30), Step("idle", 15)]
    async with EmbeddedBroker(port=port):
        servers = [MjpegServer(steps, fps=15, seed=7 + i) for i in range(4)]
        for server in servers:
            await server.__aenter__()
        try:
            for n in (0, 4):
                urls = [s.url for s in servers[:n]]
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--child", json.dumps(urls), "--port", str(port),
                    "--seconds", str(seconds), stdout=subprocess.PIPE)
                out, _ = await proc.communicate()
                result = json.loads(out.decode().strip().splitlines()[-1])
                print(f"edge agent with {n} cameras (15 fps MJPEG streams, {seconds:.0f} s): "
                      f"RSS {result['VmRSS'] / 1024:.0f} MB, peak {result['VmHWM'] / 1024:.0f} MB"
                      + (f", analysed fps per camera {result['analysed_fps']}" if n else ""))
        finally:
            for server in servers:
                await server.__aexit__()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(child(json.loads(args.child), args.port, args.seconds))
        return
    part_one(args.frames)
    asyncio.run(part_two(args.seconds))


if __name__ == "__main__":
    main()
