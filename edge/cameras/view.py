"""Is the camera still looking at the view it learned? The share of the reference scene found
again in place, robust to people and things passing in front of it.

- Features are spread over the picture: ORB finds every corner, then each cell of a grid
  keeps its strongest few, in the reference and in every frame alike. A busy object (a
  person's dark clothes on a pale wall) can then only take the slots of the cells it covers,
  never those of the background elsewhere: with ORB's global best-N, a person walking
  through took enough of them to make the lobby read as "turned" on every walk.
- The reference keeps only the features found in place in most of the learning frames: a
  person crossing the view while the camera learns is not part of the scene.
- Occlusion is not movement: a reference feature whose surroundings no longer look like the
  reference (someone in front of it) is left out of the count, as long as at most half of
  the reference is hidden so. Beyond that the view itself has changed (turned away, or
  shifted: every feature's surroundings change), and every feature counts again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

GRID = (8, 6)  # columns, rows of cells over the picture (40x40 px at 320x240)
REF_PER_CELL = 6  # the reference keeps at most this many features a cell ...
FRAME_PER_CELL = 12  # ... a frame more, so a feature ranked lower today is still there
PLACE_PX = 16  # a reference feature found within this many pixels is in place
MATCH_BITS = 50  # Hamming distance within which a descriptor is the same feature
STABLE_SHARE = 0.7  # of the learning frames a reference feature must be found in place in
CHANGED_GREY = 25.0  # mean grey change around a feature: something stands in front of it
HIDDEN_MAX = 0.5  # more of the reference hidden than this: the view changed, not a passer-by
MIN_FEATURES = 10  # fewer in the reference: a featureless scene, never "turned"


@dataclass(frozen=True, slots=True)
class _Reference:
    points: Any  # float32 (n, 2): positions in the picture
    descriptors: Any  # uint8 (n, 32): ORB descriptors, or None
    picture: Any  # the normalised picture they were found in


class ViewCheck:
    """One per camera, on its analysis thread (OpenCV's detectors are not shared between
    threads). `learn` once, then `in_place` on normalised grey pictures of the same size."""

    def __init__(self) -> None:
        # 2 pyramid levels and 23 px patches: local features, so a person changes only the
        # descriptors next to them (8 levels reached ~110 px around each corner)
        self._orb = cv2.ORB.create(nfeatures=3000, nlevels=2, edgeThreshold=23, patchSize=23,
                                   fastThreshold=10)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._reference: _Reference | None = None
        self.hidden = 0.0  # the share of the reference hidden at the last check

    def learn(self, pictures: Sequence[Any]) -> None:
        """The reference from the last picture, keeping the features the others confirm."""
        if not pictures:
            raise ValueError("learning the view needs at least one picture")
        last = pictures[-1]
        keypoints, descriptors = self._features(last, REF_PER_CELL * 2)
        points = _positions(keypoints)
        if len(pictures) > 1 and descriptors is not None:
            seen = np.zeros(len(points), np.int32)
            for picture in pictures[:-1]:
                seen += self._found(points, descriptors, picture)
            stable = [k for k, n in zip(keypoints, seen, strict=True)
                      if n >= STABLE_SHARE * (len(pictures) - 1)]
            keypoints, descriptors = self._orb.compute(last, _per_cell(stable, REF_PER_CELL,
                                                                       last.shape))
            points = _positions(keypoints)
        self._reference = _Reference(points, descriptors, last.copy())

    def in_place(self, picture: Any) -> float:
        """The share (0..1) of the visible reference features found where they were."""
        ref = self._reference
        if ref is None:
            raise RuntimeError("in_place before learn")
        if ref.descriptors is None or len(ref.points) < MIN_FEATURES:
            self.hidden = 0.0
            return 1.0
        found = self._found(ref.points, ref.descriptors, picture)
        change = cv2.blur(cv2.absdiff(picture, ref.picture), (9, 9))
        xs, ys = ref.points[:, 0].astype(np.intp), ref.points[:, 1].astype(np.intp)
        hidden = change[ys, xs] > CHANGED_GREY
        self.hidden = float(hidden.mean())
        if self.hidden <= HIDDEN_MAX:
            return float(found[~hidden].mean())
        return float(found.mean())

    def _features(self, picture: Any, per_cell: int) -> tuple[list[Any], Any]:
        keypoints = _per_cell(list(self._orb.detect(picture, None)), per_cell, picture.shape)
        if not keypoints:
            return [], None
        keypoints, descriptors = self._orb.compute(picture, keypoints)
        return list(keypoints), descriptors

    def _found(self, points: Any, descriptors: Any, picture: Any) -> Any:
        """Per reference feature: is its best (mutual) match in `picture` where it was?"""
        found = np.zeros(len(points), bool)
        keypoints, frame_desc = self._features(picture, FRAME_PER_CELL)
        if frame_desc is None:
            return found
        frame_points = _positions(keypoints)
        for m in self._matcher.match(descriptors, frame_desc):
            if m.distance <= MATCH_BITS:
                dx, dy = frame_points[m.trainIdx] - points[m.queryIdx]
                found[m.queryIdx] = dx * dx + dy * dy <= PLACE_PX * PLACE_PX
        return found


def _positions(keypoints: Sequence[Any]) -> Any:
    return np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)


def _per_cell(keypoints: list[Any], per_cell: int, shape: tuple[int, ...]) -> list[Any]:
    """The strongest `per_cell` keypoints of each grid cell."""
    if not keypoints:
        return []
    points = _positions(keypoints)
    height, width = shape[:2]
    col = np.minimum((points[:, 0] * GRID[0] / width).astype(np.intp), GRID[0] - 1)
    row = np.minimum((points[:, 1] * GRID[1] / height).astype(np.intp), GRID[1] - 1)
    cell = row * GRID[0] + col
    order = np.lexsort((-np.array([k.response for k in keypoints]), cell))
    ranked = cell[order]
    first = np.searchsorted(ranked, ranked)  # where each cell's run starts
    keep = order[np.arange(len(order)) - first < per_cell]
    return [keypoints[i] for i in keep]
