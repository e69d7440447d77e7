"""What one camera's frames show: QR codes, motion in zones, and tampering.

Runs in the camera's analysis thread (OpenCV releases the GIL), one frame at a time; the
result says what changed, and the caller acts on it on the agent's loop.

- QR: cv2.QRCodeDetectorAruco on the full-resolution grey frame (the classic
  cv2.QRCodeDetector never decoded about 2 % of signed tokens, whatever the frame; this one
  reads them all and is faster). The same text is reported again only after it has left the
  view (unseen for `qr_gone_s`) or `qr_holdoff_s` has passed.
- Motion: a running-average background at 320x240; each frame is brought to the
  background's mean brightness first (gain), so a light dimming or brightening the whole
  scene does not count as motion, and a change over more than `global_change_max` of the
  picture (lights switched, lens covered, camera turned) is no motion either: the background
  is relearned. A zone alerts when at least `min_area` of it changed for `persist_frames`
  frames in a row while its schedule arms it; then it is quiet for `cooldown_s`.
- Tamper (after `learn_frames` frames set the reference view and the focus baseline):
  covered = dark and flat; defocused = Laplacian variance below `focus_ratio` of the
  baseline; turned = fewer than `moved_ratio` of the reference scene's features found again
  in place (edge/cameras/view.py: spread over the picture, and what stands in front of the
  scene left out, so people walking through are not a turned camera). Each is raised after
  `persist_frames` frames and cleared after as many good ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from edge.cameras.config import CameraConfig
from edge.cameras.view import ViewCheck

SMALL = (320, 240)  # width, height of the picture motion and tamper look at
TAMPER_CODES = ("camera_covered", "camera_defocused", "camera_moved")
_LEARN_PICTURES = 10  # the last learning pictures the reference view is confirmed against


@dataclass(frozen=True, slots=True)
class MotionHit:
    zone: str
    area: float  # the part of the zone that changed
    box: tuple[int, int, int, int]  # x, y, w, h of the changed pixels, full resolution


@dataclass(frozen=True, slots=True)
class TamperChange:
    code: str  # one of TAMPER_CODES
    raised: bool
    detail: str


@dataclass
class Findings:
    qr: str | None = None  # a code to decide now
    motion: list[MotionHit] = field(default_factory=list)
    tamper: list[TamperChange] = field(default_factory=list)


@dataclass
class _Zone:
    name: str
    mask: Any  # uint8 mask at SMALL size
    pixels: int
    polygon: Any  # int32 points at full size, set on the first frame
    run: int = 0  # consecutive frames with motion
    quiet_until: float = 0.0


@dataclass
class _Tamper:
    bad_run: int = 0
    good_run: int = 0
    raised: bool = False


class FrameAnalyser:
    """Not thread-safe: one per camera, called from that camera's analysis thread. The
    loop side sets `armed` (the zone names armed now) whenever the schedules change."""

    def __init__(self, config: CameraConfig) -> None:
        self.config = config
        self.armed: frozenset[str] = frozenset(z.name for z in config.zones if z.schedule is None)
        self._qr = cv2.QRCodeDetectorAruco() if config.door is not None else None
        self._qr_text: str | None = None
        self._qr_decided = 0.0
        self._qr_seen = 0.0
        self._zones: list[_Zone] = []
        for zone in config.zones:
            mask = np.zeros((SMALL[1], SMALL[0]), np.uint8)
            points = np.array([[x * SMALL[0], y * SMALL[1]] for x, y in zone.polygon], np.int32)
            cv2.fillPoly(mask, [points], 255)
            self._zones.append(_Zone(zone.name, mask, max(1, int(cv2.countNonZero(mask))), None))
        self._by_name = {z.name: c for z, c in zip(self._zones, config.zones, strict=True)}
        self._background: Any = None
        self.frames = 0
        # tamper
        self._view = ViewCheck()
        self._learned = 0
        self._learning: deque[Any] = deque(maxlen=_LEARN_PICTURES)
        self._sharp: list[float] = []
        self._baseline: float | None = None
        self._tamper = {code: _Tamper() for code in TAMPER_CODES}
        self.tampered: set[str] = set()
        self.last_metrics: dict[str, float] = {}

    def analyse(self, image: Any, now: float) -> Findings:
        """`image`: a BGR frame; `now`: time.monotonic() of the frame."""
        self.frames += 1
        found = Findings()
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(gray, SMALL, interpolation=cv2.INTER_AREA)
        if self._qr is not None:
            found.qr = self._read_qr(gray, now)
        covered = False
        if self.config.tamper.enabled:
            covered = self._check_tamper(small, found)
        if not covered and not self._suspect():
            found.motion = self._motion(small, image.shape, now)
        else:
            self._background = None  # relearn once the view is back
        return found

    # --- QR ---------------------------------------------------------------------------
    def _read_qr(self, gray: Any, now: float) -> str | None:
        assert self._qr is not None
        try:
            text, _, _ = self._qr.detectAndDecode(gray)
        except cv2.error:
            text = ""
        if not text:
            if self._qr_text is not None and now - self._qr_seen > self.config.qr_gone_s:
                self._qr_text = None  # it left the view: shown again, it is decided again
            return None
        self._qr_seen = now
        if text == self._qr_text and now - self._qr_decided < self.config.qr_holdoff_s:
            return None
        self._qr_text, self._qr_decided = text, now
        return str(text)

    # --- motion -----------------------------------------------------------------------
    def _motion(self, small: Any, shape: tuple[int, ...], now: float) -> list[MotionHit]:
        frame = small.astype(np.float32)
        if self._background is None:
            self._background = frame
            return []
        bg_mean = float(self._background.mean())
        gain = bg_mean / max(1.0, float(frame.mean()))
        frame = np.clip(frame * gain, 0, 255)
        diff = cv2.absdiff(frame, self._background)
        moved = (diff > self.config.motion.pixel_threshold).astype(np.uint8) * 255
        moved = cv2.morphologyEx(moved, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        changed = cv2.countNonZero(moved) / moved.size
        self.last_metrics["changed"] = changed
        if changed > self.config.motion.global_change_max:
            self._background = frame  # the whole scene changed: relearn, alert nothing
            for zone in self._zones:
                zone.run = 0
            return []
        cv2.accumulateWeighted(frame, self._background, self.config.motion.background_rate)
        hits = []
        for zone in self._zones:
            inside = cv2.bitwise_and(moved, zone.mask)
            area = cv2.countNonZero(inside) / zone.pixels
            cfg = self._by_name[zone.name]
            zone.run = zone.run + 1 if area >= cfg.min_area else 0
            if zone.run < cfg.persist_frames or zone.name not in self.armed:
                continue
            if now < zone.quiet_until:
                continue
            zone.quiet_until = now + cfg.cooldown_s
            zone.run = 0
            x, y, w, h = cv2.boundingRect(inside)
            sx, sy = shape[1] / SMALL[0], shape[0] / SMALL[1]
            box = (int(x * sx), int(y * sy), int(w * sx), int(h * sy))
            hits.append(MotionHit(zone.name, round(area, 4), box))
        return hits

    # --- tamper -----------------------------------------------------------------------
    def _check_tamper(self, small: Any, found: Findings) -> bool:
        cfg = self.config.tamper
        mean, std = cv2.meanStdDev(small)
        mean_v, std_v = float(mean[0][0]), float(std[0][0])
        covered = mean_v < cfg.dark_level and std_v < cfg.flat_stddev
        self.last_metrics.update(mean=mean_v, std=std_v)
        if self._learned < cfg.learn_frames:
            if not covered:
                self._learn(small)
            return covered
        self._step("camera_covered", covered, found,
                   f"lens covered: mean grey {mean_v:.0f}, spread {std_v:.1f}")
        if covered or self.frames % cfg.check_every:
            return covered
        if self._qr_text is not None:
            return covered  # a code held up to the lens hides the scene: judge it afterwards
        normal = _normalised(small)
        sharp = float(cv2.Laplacian(normal, cv2.CV_64F).var())
        assert self._baseline is not None
        self.last_metrics["sharpness"] = sharp / self._baseline
        defocused = sharp < cfg.focus_ratio * self._baseline
        in_place = self._view.in_place(normal)
        self.last_metrics.update(in_place=in_place, hidden=self._view.hidden)
        moved = in_place < cfg.moved_ratio
        # a turned camera sees a new scene, sharp or not; a blurred one loses its features
        self._step("camera_defocused", defocused and not self._raised_or_near("camera_moved"),
                   found, f"focus lost: sharpness {sharp / self._baseline:.0%} of normal",
                   weight=cfg.check_every)
        self._step("camera_moved", moved and not defocused, found,
                   f"view changed: {in_place:.0%} of the reference scene in place",
                   weight=cfg.check_every)
        return covered

    def _suspect(self) -> bool:
        """Tampered, or looking like it: no motion alerts from a view that is not the one
        the zones were drawn on (a camera being turned changes much of its picture)."""
        return any(s.raised or s.bad_run > 0 for s in self._tamper.values())

    def _raised_or_near(self, code: str) -> bool:
        state = self._tamper[code]
        return state.raised or state.bad_run > 0

    def _learn(self, small: Any) -> None:
        normal = _normalised(small)
        self._sharp.append(float(cv2.Laplacian(normal, cv2.CV_64F).var()))
        self._learning.append(normal)
        self._learned += 1
        if self._learned == self.config.tamper.learn_frames:
            self._baseline = max(1.0, float(np.median(self._sharp)))
            self._view.learn(list(self._learning))
            self._learning.clear()

    def _step(self, code: str, bad: bool, found: Findings, detail: str, weight: int = 1) -> None:
        state = self._tamper[code]
        need = self.config.tamper.persist_frames
        if bad:
            state.bad_run += weight
            state.good_run = 0
            if not state.raised and state.bad_run >= need:
                state.raised = True
                self.tampered.add(code)
                found.tamper.append(TamperChange(code, True, detail))
        else:
            state.good_run += weight
            state.bad_run = 0
            if state.raised and state.good_run >= need:
                state.raised = False
                self.tampered.discard(code)
                found.tamper.append(TamperChange(code, False, "view restored"))


def _normalised(small: Any) -> Any:
    """The picture at a fixed mean brightness, so a dimmer light reads as the same scene."""
    mean = max(1.0, float(small.mean()))
    return cv2.convertScaleAbs(small, alpha=110.0 / mean)
