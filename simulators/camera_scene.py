"""A camera that renders its frames with OpenCV: a textured lobby, a person walking
through, a QR code held up, a lens being covered, a defocus, the camera turned to another
view or knocked (its view shifted or rotated), a lighting change. Written to a video file,
or served as an MJPEG HTTP stream.

A scenario is a list of steps, each lasting some frames:

    idle 30 | walk 30 | qr 20 TEXT | cover 20 | blur 20 | turn 20 | shift 20 60 5 | light 20 0.6

Every frame carries a little sensor noise, like a real camera's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import cv2
import numpy as np
from aiohttp import web

WIDTH, HEIGHT = 640, 480
StepKind = Literal["idle", "walk", "qr", "cover", "blur", "turn", "shift", "light"]
STEP_KINDS: tuple[str, ...] = ("idle", "walk", "qr", "cover", "blur", "turn", "shift", "light")


@dataclass(frozen=True)
class Step:
    kind: StepKind
    frames: int
    text: str = ""  # qr: the code's text
    gain: float = 1.0  # light: the scene's brightness factor
    start_x: float = 0.05  # walk: from this part of the width
    end_x: float = 0.95  # ... to this one
    dx: int = 0  # shift: the view moved this many pixels to the right (negative: left)
    angle: float = 0.0  # shift: and rotated this many degrees (anticlockwise)

    @classmethod
    def parse(cls, text: str) -> Step:
        """`KIND FRAMES [ARG]`: `walk 30`, `qr 20 <token>`, `light 20 0.6`,
        `shift 20 60 [5]` (pixels, then degrees)."""
        parts = text.split()
        if len(parts) < 2 or parts[0] not in STEP_KINDS or not parts[1].isdigit():
            raise ValueError(f"step {text!r}: expected KIND FRAMES [ARG], KIND one of "
                             f"{', '.join(STEP_KINDS)}")
        kind, frames = parts[0], int(parts[1])
        if kind == "qr":
            if len(parts) != 3:
                raise ValueError(f"step {text!r}: qr needs the code's text")
            return cls("qr", frames, text=parts[2])
        if kind == "light":
            gain = float(parts[2]) if len(parts) > 2 else 0.6
            if not 0.05 <= gain <= 3:
                raise ValueError(f"step {text!r}: gain must be 0.05-3")
            return cls("light", frames, gain=gain)
        if kind == "shift":
            return cls._shift(text, frames, parts[2:])
        return cls(kind, frames)  # type: ignore[arg-type]  # checked against STEP_KINDS above

    @classmethod
    def _shift(cls, text: str, frames: int, args: list[str]) -> Step:
        if not 1 <= len(args) <= 2:
            raise ValueError(f"step {text!r}: shift needs PIXELS [DEGREES]")
        try:
            dx, angle = int(args[0]), float(args[1]) if len(args) > 1 else 0.0
        except ValueError:
            raise ValueError(f"step {text!r}: shift needs whole pixels and degrees") from None
        if abs(dx) > WIDTH // 2 or abs(angle) > 90:
            raise ValueError(f"step {text!r}: shift is at most {WIDTH // 2} pixels and 90 degrees")
        return cls("shift", frames, dx=dx, angle=angle)


def qr_image(text: str, module_px: int = 4) -> Any:
    """The QR code of `text` as a grey image with a white border (cv2.QRCodeEncoder)."""
    code = cv2.QRCodeEncoder.create().encode(text)
    big = cv2.resize(code, (code.shape[1] * module_px, code.shape[0] * module_px),
                     interpolation=cv2.INTER_NEAREST)
    return cv2.copyMakeBorder(big, 4 * module_px, 4 * module_px, 4 * module_px, 4 * module_px,
                              cv2.BORDER_CONSTANT, value=255)


def _room(seed: int) -> Any:
    """A lobby wall with posters, tiles and a door: plenty of texture for the tamper checks."""
    rng = np.random.default_rng(seed)
    img = np.full((HEIGHT, WIDTH, 3), 150, np.uint8)
    img[:] = rng.integers(120, 180, 3, dtype=np.uint8)
    cv2.rectangle(img, (0, 360), (WIDTH, HEIGHT), (90, 100, 110), -1)  # floor
    for x in range(0, WIDTH, 40):  # floor tiles
        cv2.line(img, (x, 360), (x + int((x - 320) * 0.4), HEIGHT), (60, 70, 80), 2)
    for _ in range(14):  # posters and signs
        x, y = int(rng.integers(0, WIDTH - 80)), int(rng.integers(10, 300))
        w, h = int(rng.integers(30, 110)), int(rng.integers(25, 80))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), (20, 20, 20), 2)
        for k in range(3):
            cv2.line(img, (x + 5, y + 8 + k * 8), (x + w - 5, y + 8 + k * 8), (240, 240, 240), 1)
    cv2.rectangle(img, (270, 120), (370, 360), (60, 50, 40), -1)  # the door
    cv2.circle(img, (355, 245), 6, (200, 200, 200), -1)
    return img


class CameraScene:
    """Renders the steps of a scenario, one BGR frame at a time."""

    def __init__(self, seed: int = 7, noise: float = 2.0) -> None:
        self._room = _room(seed)
        self._other = _room(seed + 101)  # what the camera sees when turned away
        # a few noise patterns, cycled: as good as fresh noise for the analysis, and cheap
        rng = np.random.default_rng(seed)
        self._noise: list[tuple[Any, Any]] = []
        for _ in range(8 if noise else 0):
            n = rng.normal(0, noise, (HEIGHT, WIDTH, 3))
            self._noise.append((np.clip(n, 0, 255).astype(np.uint8),
                                np.clip(-n, 0, 255).astype(np.uint8)))
        self._count = 0

    def render(self, steps: Iterable[Step]) -> Iterator[Any]:
        for step in steps:
            for i in range(step.frames):
                yield self.frame(step, i)

    def frame(self, step: Step, i: int) -> Any:
        img = (self._other if step.kind == "turn" else self._room).copy()
        if step.kind == "walk":
            progress = i / max(1, step.frames - 1)
            self._person(img, step.start_x + (step.end_x - step.start_x) * progress)
        elif step.kind == "qr":
            self._person(img, 0.5)
            code = cv2.cvtColor(qr_image(step.text), cv2.COLOR_GRAY2BGR)
            h, w = code.shape[:2]
            y, x = (HEIGHT - h) // 2 - 20, (WIDTH - w) // 2
            img[y:y + h, x:x + w] = code
        elif step.kind == "cover":
            img[:] = 8  # a hand or tape over the lens
        elif step.kind == "blur":
            img = cv2.GaussianBlur(img, (0, 0), 6)
        elif step.kind == "light":
            img = cv2.convertScaleAbs(img, alpha=step.gain)
        elif step.kind == "shift":  # the camera knocked: the lobby seen from a little aside
            turn = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), step.angle, 1.0)
            turn[0, 2] += step.dx
            img = cv2.warpAffine(img, turn, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
        if self._noise:
            plus, minus = self._noise[self._count % len(self._noise)]
            img = cv2.subtract(cv2.add(img, plus), minus)
        self._count += 1
        return img

    @staticmethod
    def _person(img: Any, x_fraction: float) -> None:
        cx = int(x_fraction * WIDTH)
        cv2.ellipse(img, (cx, 150), (22, 28), 0, 0, 360, (40, 60, 90), -1)  # head
        cv2.rectangle(img, (cx - 40, 180), (cx + 40, 330), (30, 30, 140), -1)  # body
        cv2.rectangle(img, (cx - 35, 330), (cx + 35, 420), (40, 40, 40), -1)  # legs


def write_video(path: Path | str, steps: Sequence[Step], *, fps: float = 15.0,
                seed: int = 7) -> Path:
    """Render `steps` into a Motion-JPEG AVI (every OpenCV build writes it)."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        for frame in CameraScene(seed).render(steps):
            writer.write(frame)
    finally:
        writer.release()
    return path


class MjpegServer:
    """`async with MjpegServer(steps) as server:` serves `server.url` (multipart MJPEG,
    what many IP cameras offer), looping over the scenario at `fps`. `drop()` closes the
    connected clients (a dropped stream); `stall(s)` makes the camera slow."""

    BOUNDARY = "lintelframe"

    def __init__(self, steps: Sequence[Step], *, fps: float = 15.0, port: int = 0,
                 seed: int = 7) -> None:
        self._scene = CameraScene(seed)
        self._render_lock = threading.Lock()
        self._frames: list[bytes] = []
        self._epoch = 0  # counts show() calls: each new scenario starts at its first frame
        self._use(self._render(steps))
        self._fps = fps
        self._port = port
        self._runner: web.AppRunner | None = None
        self._responses: set[web.StreamResponse] = set()
        self.stall_s = 0.0
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/stream.mjpg", self._stream)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/stream.mjpg"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def show(self, steps: Sequence[Step]) -> None:
        """From the next frame on, serve (and loop over) this scenario instead (rendered on
        a worker thread: the loop keeps serving meanwhile)."""
        self._use(await asyncio.to_thread(self._render, steps))

    def _render(self, steps: Sequence[Step]) -> list[bytes]:
        with self._render_lock:
            return [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
                    for f in self._scene.render(steps)]

    def _use(self, frames: list[bytes]) -> None:
        if not frames:
            raise ValueError("a stream needs at least one frame")
        self._frames = frames
        self._epoch += 1

    async def drop(self) -> None:
        """Cut every connected client off, as a camera that reboots does."""
        for resp in list(self._responses):
            with contextlib.suppress(Exception):
                if resp.task is not None:
                    resp.task.cancel()
        self._responses.clear()

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={self.BOUNDARY}",
            "Cache-Control": "no-cache"})
        await resp.prepare(request)
        self._responses.add(resp)
        try:
            i, epoch = 0, self._epoch
            while True:
                if epoch != self._epoch:
                    i, epoch = 0, self._epoch
                jpeg = self._frames[i % len(self._frames)]
                await resp.write(
                    f"--{self.BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                i += 1
                await asyncio.sleep(1 / self._fps + self.stall_s)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._responses.discard(resp)
        return resp


@contextlib.asynccontextmanager
async def serve_stream(steps: Sequence[Step], *, fps: float = 15.0,
                       port: int = 0) -> AsyncIterator[MjpegServer]:
    async with MjpegServer(steps, fps=fps, port=port) as server:
        yield server

