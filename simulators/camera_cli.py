"""`lintel sim camera render|serve STEP…`: the camera simulator from the command line
(OpenCV is imported only when the command runs)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

DEFAULT_STEPS = ["idle 30", "walk 45", "idle 15", "light 30 0.6", "idle 15", "cover 30",
                 "idle 30", "blur 30", "idle 30", "turn 30", "idle 30", "shift 30 60 5", "idle 30"]


def add_cli(simsub: Any) -> None:
    """`lintel sim camera render|serve STEP…` (argparse subcommands under `lintel sim`)."""
    camera = simsub.add_parser("camera", help="render a camera scene to a file or an MJPEG stream")
    sub = camera.add_subparsers(dest="camera_command", required=True)
    help_steps = ("scenario steps, each 'KIND FRAMES [ARG]': idle, walk, qr FRAMES TEXT, cover, "
                  "blur, turn, shift FRAMES PIXELS [DEGREES], light FRAMES GAIN (default: a tour of them all)")
    render = sub.add_parser("render", help="write the scenario to a video file (MJPEG AVI)")
    render.add_argument("--out", type=Path, required=True, help="e.g. scene.avi")
    serve = sub.add_parser("serve", help="serve the scenario, looping, as an MJPEG HTTP stream")
    serve.add_argument("--port", type=int, default=8554)
    for p in (render, serve):
        p.add_argument("--fps", type=float, default=15.0)
        p.add_argument("steps", nargs="*", default=DEFAULT_STEPS, help=help_steps)


def run_cli(args: Any) -> int:
    from simulators.camera_scene import MjpegServer, Step, write_video

    try:
        steps = [Step.parse(text) for text in args.steps]
    except ValueError as exc:
        print(f"lintel sim camera: {exc}", file=sys.stderr)
        return 2
    if args.camera_command == "render":
        path = write_video(args.out, steps, fps=args.fps)
        print(f"wrote {sum(s.frames for s in steps)} frames to {path}")
        return 0

    async def serve() -> None:
        async with MjpegServer(steps, fps=args.fps, port=args.port) as server:
            print(f"camera stream: {server.url}  (source: for an edge camera)", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0
