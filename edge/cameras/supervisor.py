"""The camera supervisor: per camera a reader thread (the driver) and an analysis thread;
what they find is handed to the agent's loop, which decides QR codes at the door, raises
camera alerts and device faults, and reports health.

Nothing heavy runs on the loop: frames stay in the camera's threads, and only findings (a
QR text, a motion hit with its already-spooled snapshot ids, a tamper change) cross over.
A slow or stuck camera therefore slows only itself; its reader drops old frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from edge.access.schedule import WeeklySchedule, site_local
from edge.cameras.analysis import SMALL, Findings, FrameAnalyser, MotionHit, TamperChange
from edge.cameras.config import CameraConfig, UploadConfig
from edge.cameras.spool import SnapshotSpool, SpoolError
from edge.cameras.upload import SnapshotUploader
from edge.drivers.camera import CameraSource, SourceConfig, SourceStatus
from edge.tasks import Tasks
from wire.devices import DeviceData, DeviceEventType, Reading, TelemetryData
from wire.events import CameraData, new_event_id
from wire.permissions import Schedule

log = logging.getLogger(__name__)

Emit = Callable[[str, DeviceData | TelemetryData | CameraData], None]
OnQr = Callable[[str, str, str], None]  # (camera, door, text)
TimeZone = Callable[[], ZoneInfo]

TAMPER_TEXT = {
    "camera_covered": ("camera lens covered or blacked out", "摄像机镜头被遮挡"),
    "camera_defocused": ("camera out of focus", "摄像机失焦"),
    "camera_moved": ("camera turned away from its view", "摄像机被移动或转向"),
}


@dataclass
class _Media:
    snapshot_id: str | None = None
    clip_id: str | None = None


@dataclass
class Camera:
    config: CameraConfig
    analyser: FrameAnalyser
    source: CameraSource
    schedules: dict[str, WeeklySchedule]
    thread: threading.Thread | None = None
    analysed: int = 0
    analysis_fps: float = 0.0
    busy_s: float = 0.0  # time spent analysing, for the benchmark
    clip: deque[Any] = field(default_factory=deque)
    last: Any = None  # the newest frame analysed (a picture on demand: snapshot())


class CameraSupervisor:
    """`async with CameraSupervisor(cameras, ...)` runs every camera until exit."""

    def __init__(self, configs: list[CameraConfig], emit: Emit, on_qr: OnQr, *,
                 data_dir: Path, uploads: UploadConfig | None = None,
                 timezone_of_site: TimeZone = lambda: ZoneInfo("UTC")) -> None:
        self._emit = emit
        self._on_qr = on_qr
        self._tz = timezone_of_site
        self._uploads = uploads
        self._data_dir = data_dir
        self.cameras: dict[str, Camera] = {cfg.id: self._build(cfg) for cfg in configs}
        self.spool: SnapshotSpool | None = None
        self.uploader: SnapshotUploader | None = None
        self._stack = contextlib.AsyncExitStack()
        self._tasks = Tasks()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        try:
            if self._uploads is not None:
                self.spool = SnapshotSpool(self._data_dir / "snapshots.db",
                                           int(self._uploads.spool_max_mb * 1024 * 1024))
                self._stack.callback(self.spool.close)
                self.uploader = await self._stack.enter_async_context(
                    SnapshotUploader(self._uploads, self.spool))
            self.update_armed()
            for camera in self.cameras.values():
                self._start(camera)
            self._tasks.spawn(self._schedules(), "camera-schedules")
            self._tasks.spawn(self._health(), "camera-health")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._close()

    async def _close(self) -> None:
        self._stop.set()
        await self._tasks.cancel()
        cameras = list(self.cameras.values())
        for camera in cameras:
            camera.source.frames.close()
        for camera in cameras:
            await self._stop_camera(camera)
        await self._stack.aclose()

    def _build(self, cfg: CameraConfig) -> Camera:
        source = CameraSource(SourceConfig(
            name=cfg.id, source=cfg.source, queue_frames=cfg.queue_frames,
            realtime=cfg.realtime, loop=cfg.loop, max_fps=cfg.max_fps,
            backoff_min_s=cfg.backoff_min_s, backoff_max_s=cfg.backoff_max_s,
        ), self._status_from_thread)
        schedules = {
            z.name: WeeklySchedule.from_wire(Schedule(id=z.name, windows=z.schedule))
            for z in cfg.zones if z.schedule is not None
        }
        return Camera(cfg, FrameAnalyser(cfg), source, schedules,
                      clip=deque(maxlen=max(1, cfg.clip_frames)))

    def _start(self, camera: Camera) -> None:
        camera.source.__enter__()
        camera.thread = threading.Thread(
            target=self._analyse_loop, args=(camera,), name=f"analyse-{camera.config.id}",
            daemon=True)
        camera.thread.start()

    async def _stop_camera(self, camera: Camera) -> None:
        camera.source.frames.close()  # the analysis thread returns on a closed queue
        if camera.thread is not None:
            await asyncio.to_thread(camera.thread.join, 10)
        # joined off the loop: a reader blocked on a stream this process serves (the demo's
        # camera) would otherwise wait out ffmpeg's 5 s timeout
        await asyncio.to_thread(camera.source.close)

    async def reconcile(self, configs: list[CameraConfig]) -> list[str]:
        """Run exactly `configs`: an unchanged camera keeps running; a changed one is stopped
        and started again with its new configuration; a removed one stops. Returns the ids
        (re)started."""
        wanted = {cfg.id: cfg for cfg in configs}
        for camera in [c for c in self.cameras.values()
                       if wanted.get(c.config.id) != c.config]:
            del self.cameras[camera.config.id]
            await self._stop_camera(camera)
        started = []
        for cfg in configs:
            if cfg.id not in self.cameras:
                camera = self._build(cfg)
                self.cameras[cfg.id] = camera
                self._start(camera)
                started.append(cfg.id)
        self.update_armed()
        return started

    # --- schedules (on the loop) -------------------------------------------------------
    def update_armed(self, now: datetime | None = None) -> None:
        """Tell each analyser which of its zones are armed at `now` (site-local time)."""
        local = site_local(now or datetime.now(UTC), self._tz())
        for camera in self.cameras.values():
            camera.analyser.armed = frozenset(
                z.name for z in camera.config.zones
                if z.schedule is None or camera.schedules[z.name].is_open(local))

    async def _schedules(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.update_armed()

    async def _health(self) -> None:
        while True:  # the period follows the cameras running now
            await asyncio.sleep(min((c.config.health_every_s for c in self.cameras.values()),
                                    default=30.0))
            for camera in self.cameras.values():
                self._emit(camera.config.id, self._device(camera, "counters"))
                self._emit(camera.config.id, TelemetryData(
                    device_type="camera", model=camera.config.model, readings=[
                        Reading(name="fps", value=round(camera.source.counters.fps, 2)),
                        Reading(name="analysed_fps", value=round(camera.analysis_fps, 2)),
                    ]))

    def counters(self, camera: Camera) -> dict[str, int]:
        return {**camera.source.counters.as_dict(), "analysed": camera.analysed,
                "analysed_fps": round(camera.analysis_fps)}

    def _device(self, camera: Camera, event: DeviceEventType, **kwargs: Any) -> DeviceData:
        return DeviceData(device_type="camera", model=camera.config.model, event=event,
                          counters=self.counters(camera), **kwargs)

    # --- from the threads to the loop ---------------------------------------------------
    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(fn, *args)

    def _status_from_thread(self, status: SourceStatus) -> None:
        self._call(self._status, status)

    def _status(self, status: SourceStatus) -> None:
        camera = self.cameras.get(status.name)
        if camera is None:
            return  # removed meanwhile
        self._emit(camera.config.id, self._device(
            camera, "online" if status.online else "offline", detail=status.reason or None))

    def _findings(self, camera: Camera, found: Findings, media: list[_Media]) -> None:
        cfg = camera.config
        if found.qr is not None and cfg.door is not None:
            try:
                self._on_qr(cfg.id, cfg.door, found.qr)
            except Exception:
                log.exception("camera %s: QR decision failed", cfg.id)
        for change in found.tamper:
            self._emit(cfg.id, self._tamper(camera, change))
        for hit, item in zip(found.motion, media, strict=True):
            self._emit(cfg.id, CameraData(
                camera=cfg.id, event="motion", zone=hit.zone, area=min(1.0, hit.area),
                snapshot_id=item.snapshot_id, clip_id=item.clip_id,
                detail=f"motion in zone {hit.zone}: {hit.area:.0%} of it changed"))
        if media and self.uploader is not None:
            self.uploader.wake()

    def snapshot(self, camera_id: str, quality: int = 85) -> str | None:
        """Spool the camera's newest frame as a JPEG for the hub and return its id (None: no
        such camera, no frame yet, or no uploads configured). For another part's alarm, e.g.
        a unit's intrusion with the corridor's picture; called on the loop (one encode)."""
        camera = self.cameras.get(camera_id)
        image = camera.last if camera is not None else None
        if camera is None or image is None or self.spool is None:
            return None
        ts = datetime.now(UTC)
        marked = image.copy()
        cv2.putText(marked, f"{camera_id} {ts:%Y-%m-%d %H:%M:%S}Z", (8, marked.shape[0] - 10),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        ok, jpeg = cv2.imencode(".jpg", marked, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            return None
        snapshot_id = new_event_id()
        try:
            self.spool.add(snapshot_id, camera_id, "snapshot", "image/jpeg", ts.isoformat(),
                           jpeg.tobytes())
        except SpoolError:
            log.exception("camera %s: snapshot not spooled", camera_id)
            return None
        if self.uploader is not None:
            self.uploader.wake()
        return snapshot_id

    def _tamper(self, camera: Camera, change: TamperChange) -> DeviceData:
        text, text_zh = TAMPER_TEXT[change.code]
        if change.raised:
            return self._device(camera, "fault_raised", code=change.code, text=text,
                                text_zh=text_zh, severity="major", skill="cctv",
                                detail=change.detail)
        return self._device(camera, "fault_cleared", code=change.code, detail=change.detail)

    # --- the analysis thread ---------------------------------------------------------------
    def _analyse_loop(self, camera: Camera) -> None:
        cv2.setNumThreads(1)  # one core per camera's analysis; the cameras run side by side
        window_start, window_n = time.monotonic(), 0
        while not self._stop.is_set():
            frame = camera.source.frames.get(timeout=0.5)
            if frame is None:
                if camera.source.frames.closed:
                    return
                continue
            started = time.perf_counter()
            camera.last = frame.image  # the reader hands a new array per frame: kept as is
            try:
                found = camera.analyser.analyse(frame.image, frame.monotonic)
                if camera.config.clip_frames:
                    camera.clip.append(cv2.resize(frame.image, SMALL))
                media = [self._save_media(camera, frame.image, hit) for hit in found.motion]
            except Exception:
                camera.source.counters.errors += 1
                log.exception("camera %s: analysis failed on frame %d", camera.config.id,
                              frame.seq)
                continue
            camera.busy_s += time.perf_counter() - started
            camera.analysed += 1
            window_n += 1
            now = time.monotonic()
            if now - window_start >= 2.0:
                camera.analysis_fps = window_n / (now - window_start)
                window_start, window_n = now, 0
            if found.qr is not None or found.motion or found.tamper:
                self._call(self._findings, camera, found, media)

    def _save_media(self, camera: Camera, image: Any, hit: MotionHit) -> _Media:
        """The alert's JPEG (zone and motion drawn on it) and clip, spooled for the hub."""
        if self.spool is None:
            return _Media()
        cfg = camera.config
        marked = image.copy()
        zone = next(z for z in cfg.zones if z.name == hit.zone)
        h, w = marked.shape[:2]
        polygon = np.array([[x * w, y * h] for x, y in zone.polygon], np.int32)
        cv2.polylines(marked, [polygon], True, (0, 255, 255), 2)
        x, y, bw, bh = hit.box
        cv2.rectangle(marked, (x, y), (x + bw, y + bh), (0, 0, 255), 2)
        ts = datetime.now(UTC)
        cv2.putText(marked, f"{cfg.id} {hit.zone} {ts:%Y-%m-%d %H:%M:%S}Z", (8, h - 10),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        ok, jpeg = cv2.imencode(".jpg", marked, [cv2.IMWRITE_JPEG_QUALITY, cfg.snapshot_quality])
        media = _Media()
        try:
            if ok:
                media.snapshot_id = new_event_id()
                self.spool.add(media.snapshot_id, cfg.id, "snapshot", "image/jpeg",
                               ts.isoformat(), jpeg.tobytes())
            clip = _clip(list(camera.clip)) if cfg.clip_frames else None
            if clip is not None:
                media.clip_id = new_event_id()
                self.spool.add(media.clip_id, cfg.id, "clip", "video/mp4", ts.isoformat(), clip)
        except SpoolError:
            log.exception("camera %s: snapshot not spooled", cfg.id)
        return media


def _clip(frames: list[Any], fps: float = 8.0) -> bytes | None:
    """The frames before the alert as an MP4 (MPEG-4 part 2, which OpenCV's wheels write);
    None where the codec is missing."""
    if len(frames) < 2:
        return None
    h, w = frames[0].shape[:2]
    fd, name = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(name, cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            return None
        for frame in frames:
            writer.write(frame)
        writer.release()
        return Path(name).read_bytes() or None
    finally:
        os.unlink(name)
