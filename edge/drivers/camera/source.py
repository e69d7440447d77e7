"""One camera source read by its own thread (OpenCV releases the GIL while it decodes).

The thread opens the source with cv2.VideoCapture, reads frames into a bounded FrameQueue
(a slow consumer loses old frames, never stalls the reader or anyone else), and reopens a
dropped stream with capped exponential backoff and jitter. Status changes go to `on_status`,
called from the reader thread: the caller hands them over to its own loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import cv2

from edge.drivers.camera.errors import CameraError
from edge.drivers.camera.models import (
    Frame,
    FrameQueue,
    SourceConfig,
    SourceCounters,
    SourceStatus,
    _Backoff,
)

log = logging.getLogger(__name__)
OnStatus = Callable[[SourceStatus], None]
_FPS_WINDOW_S = 2.0


class CameraSource:
    """`with CameraSource(config, on_status) as source:` reads until exit; frames wait in
    `source.frames`."""

    def __init__(self, config: SourceConfig, on_status: OnStatus = lambda status: None) -> None:
        self.config = config
        self.frames = FrameQueue(config.queue_frames)
        self.counters = SourceCounters()
        self.online = False
        self.ended = False  # a file that reached its end (without loop)
        self._reported: bool | None = None
        self._on_status = on_status
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{config.name}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self.frames.close()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # --- the reader thread ------------------------------------------------------------
    def _run(self) -> None:
        backoff = _Backoff(self.config.backoff_min_s, self.config.backoff_max_s)
        while not self._stop.is_set():
            try:
                capture = self._open()
            except CameraError as exc:
                self._status(False, str(exc))
                self.counters.errors += 1
                self._stop.wait(backoff.next())
                continue
            try:
                backoff.reset()
                self._status(True, "")
                reason = self._read_all(capture)
            finally:
                capture.release()
            if reason is None:  # stopped, or a file at its end
                if self.ended:
                    self._status(False, "end of file")
                return
            self.counters.errors += 1
            self.counters.reconnects += 1
            self._status(False, reason)
            self._stop.wait(backoff.next())

    def _open(self) -> Any:
        cfg = self.config
        if cfg.kind == "device":
            try:
                index = int(cfg.source.removeprefix("device:"))
            except ValueError as exc:
                raise CameraError(f"{cfg.name}: {cfg.source!r} is not device:<number>") from exc
            capture = cv2.VideoCapture(index)
        elif cfg.kind == "stream":
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(cfg.open_timeout_s * 1000),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(cfg.read_timeout_s * 1000)]
            capture = cv2.VideoCapture(cfg.source, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(cfg.source)
        if not capture.isOpened():
            capture.release()
            raise CameraError(f"{cfg.name}: cannot open {cfg.source}")
        return capture

    def _read_all(self, capture: Any) -> str | None:
        """Read until stopped (None), a file's end (None, `ended`) or a failure (its reason)."""
        cfg = self.config
        is_file = cfg.kind == "file"
        file_fps = capture.get(cv2.CAP_PROP_FPS) if is_file else 0.0
        period = 0.0
        if is_file and cfg.realtime and file_fps > 0:
            period = 1.0 / file_fps
        if cfg.max_fps:
            period = max(period, 1.0 / cfg.max_fps)
        window_start, window_frames = time.monotonic(), 0
        next_due = time.monotonic()
        while not self._stop.is_set():
            ok, image = capture.read()
            now = time.monotonic()
            if not ok or image is None:
                if is_file and cfg.loop and self.counters.frames:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                if is_file:
                    self.ended = True
                    return None
                return "stream dropped (no frame)"
            self.counters.frames += 1
            window_frames += 1
            if now - window_start >= _FPS_WINDOW_S:
                self.counters.fps = window_frames / (now - window_start)
                window_start, window_frames = now, 0
            frame = Frame(image, self.counters.frames, now)
            # a live source never waits for the analysis; a file read as fast as it can does
            if self.frames.put(frame, block=is_file and not cfg.realtime):
                self.counters.dropped += 1
            if period:
                next_due = max(next_due + period, now - period)
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        return None

    def _status(self, online: bool, reason: str) -> None:
        if online == self._reported:
            return  # an outage is reported once, not at every retry
        self.online = self._reported = online
        try:
            self._on_status(SourceStatus(self.config.name, online, reason))
        except Exception:  # the caller's problem must not kill the reader
            log.exception("camera %s: status callback failed", self.config.name)
