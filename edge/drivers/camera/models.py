"""What the camera driver hands out: frames, and the source's health."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

SourceKind = Literal["stream", "file", "device"]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    source: str  # rtsp://… or http(s)://… (a stream), a file path, or device:N (cv2 index)
    queue_frames: int = 2  # frames waiting for analysis; older ones are dropped
    realtime: bool = True  # a file: paced at its own fps (False: every frame, as fast as taken)
    loop: bool = False  # a file: start again at its end
    max_fps: float | None = None  # read no faster than this (a local device, a fast stream)
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0

    @property
    def kind(self) -> SourceKind:
        if self.source.startswith(("rtsp://", "rtsps://", "http://", "https://")):
            return "stream"
        if self.source.startswith("device:"):
            return "device"
        return "file"


@dataclass(frozen=True, slots=True)
class Frame:
    image: Any  # numpy BGR array, height x width x 3
    seq: int  # per source, counts every frame read (dropped ones included)
    monotonic: float  # time.monotonic() when read


@dataclass
class SourceCounters:
    """Kept by the reader thread; read by anyone (plain ints: a torn read is harmless)."""

    frames: int = 0
    dropped: int = 0
    errors: int = 0
    reconnects: int = 0
    fps: float = 0.0

    def as_dict(self) -> dict[str, int]:
        return {"frames": self.frames, "dropped": self.dropped, "errors": self.errors,
                "reconnects": self.reconnects, "fps": round(self.fps)}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    online: bool
    reason: str = ""


class FrameQueue:
    """A bounded, thread-safe queue that drops its oldest frame to make room (a live
    source), or makes the writer wait (`block=True`: a file analysed frame by frame)."""

    def __init__(self, size: int) -> None:
        self._frames: deque[Frame] = deque()
        self._size = size
        self._cond = threading.Condition()
        self.closed = False

    def put(self, frame: Frame, *, block: bool = False) -> bool:
        """Add `frame`; True when an older frame was dropped for it."""
        with self._cond:
            while block and len(self._frames) >= self._size and not self.closed:
                self._cond.wait(0.1)
            dropped = len(self._frames) >= self._size
            if dropped:
                self._frames.popleft()
            self._frames.append(frame)
            self._cond.notify_all()
            return dropped

    def get(self, timeout: float) -> Frame | None:
        """The oldest waiting frame, or None after `timeout` seconds (or once closed)."""
        with self._cond:
            if not self._frames and not self.closed:
                self._cond.wait(timeout)
            if not self._frames:
                return None
            frame = self._frames.popleft()
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


@dataclass
class _Backoff:
    low: float
    high: float
    attempt: int = field(default=0)

    def next(self) -> float:
        delay = min(self.high, self.low * 2.0**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.5, 1.0)  # jitter: cameras of one site do not sync up

    def reset(self) -> None:
        self.attempt = 0
