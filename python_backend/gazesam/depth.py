"""Depth: each family's pre-processing and "nearness", normalisation, and the "near the viewer" tests.

The pipeline's convention is *nearness*: a larger value means nearer. Depth-Anything predicts relative
inverse depth (disparity), which already is; FastDepth predicts metres (larger = farther), converted by
:func:`fastdepth_nearness`. The served depth graphs do the pre-processing (:data:`DEPTH_ANYTHING_INPUT`,
:data:`FASTDEPTH_INPUT`) and the nearness and :func:`normalize_depth` themselves, answering the 0..255 map
``NEARNESS``; the ``preprocess_*``/nearness functions here are the references they are checked against.
The near-the-viewer tests run in the fusion and selection steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .boxes import box_pixel_bounds
from .contracts import DEPTH, FASTDEPTH, spatial_size
from .frame_input import FrameInput
from .geometry import FrameResize, ResizeRule

DEPTH_ANYTHING_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
"""ImageNet statistics Depth-Anything was trained with, RGB order, on 0..1 pixels."""
DEPTH_ANYTHING_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

DEPTH_SCALE = 255.0
""":func:`normalize_depth` maps each frame's depth range onto 0..DEPTH_SCALE."""

DEPTH_ANYTHING_INPUT = FrameInput(ResizeRule("stretch", spatial_size(DEPTH.input("input"))), "cubic", "rgb",
                                  divisor=255.0, mean=tuple(DEPTH_ANYTHING_MEAN.tolist()),
                                  std=tuple(DEPTH_ANYTHING_STD.tolist()))
"""Stretched to 518x518 (INTER_CUBIC), RGB, ImageNet-normalised (upstream fed BGR 0..1 without mean/std, bug §6.2.10)."""
FASTDEPTH_INPUT = FrameInput(ResizeRule("stretch", FASTDEPTH.input("image").shape[1:3]), "area", "rgb", divisor=255.0)
"""The whole frame squeezed into 224x224 (INTER_AREA: a camera frame always shrinks here), RGB 0..1, NHWC."""


def preprocess_depth_anything(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 3, 518, 518] RGB, ImageNet-normalised.

    Stretched (INTER_CUBIC) to the fixed-size export's input; upstream fed BGR 0..1 without mean/std
    (bug §6.2.10).
    """
    resize = FrameResize.stretch(frame.shape[:2], spatial_size(DEPTH.input("input")))
    resized = resize.apply_image(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), interpolation=cv2.INTER_CUBIC)
    normalised = (resized.astype(np.float32) / 255.0 - DEPTH_ANYTHING_MEAN) / DEPTH_ANYTHING_STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


def depth_anything_nearness(raw: np.ndarray) -> np.ndarray:
    """Depth-Anything output float32 [1, 1, h, w] -> float32 (h, w) nearness (its own values: larger = nearer)."""
    return np.asarray(raw, dtype=np.float32).reshape(raw.shape[-2:])


FASTDEPTH_MIN_DEPTH_M = 0.1
"""Depths below this (metres) count as this when inverted: the network's floor is about 0.5 m anyway."""


def preprocess_fastdepth(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 frame -> float32 [1, 224, 224, 3] NHWC RGB on 0..1, stretched to the square (no aspect kept).

    FastDepth's export takes the whole frame squeezed into 224x224, as it was trained; INTER_AREA since
    a camera frame always shrinks here.
    """
    _, height, width, _ = FASTDEPTH.input("image").shape
    resize = FrameResize.stretch(frame.shape[:2], (height, width))
    resized = resize.apply_image(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray((resized.astype(np.float32) / 255.0)[None])


def fastdepth_nearness(raw: np.ndarray) -> np.ndarray:
    """FastDepth output float32 [1, 1, h, w] metres -> float32 (h, w) nearness ``1 / max(d, 0.1 m)``."""
    metres = np.asarray(raw, dtype=np.float32).reshape(raw.shape[-2:])
    return (1.0 / np.maximum(np.nan_to_num(metres, nan=np.inf), FASTDEPTH_MIN_DEPTH_M)).astype(np.float32)


def normalize_depth(raw: np.ndarray) -> np.ndarray:
    """Nearness (h, w) (or [1, 1, h, w]) -> float32 (h, w) min-max scaled to 0..255 (zeros if constant)."""
    depth = np.asarray(raw, dtype=np.float32).reshape(raw.shape[-2:])
    low, high = float(depth.min()), float(depth.max())
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return np.zeros(depth.shape, np.float32)
    return ((depth - low) * (DEPTH_SCALE / (high - low))).astype(np.float32)


def face_depth(
    depth: np.ndarray, face_box: np.ndarray, frame_hw: tuple[int, int], patch: float
) -> float:
    """Median depth over the central patch of the face box, read from the (h, w) depth map.

    The patch is centred on the (4,) inclusive face box (frame pixels) and spans ``patch`` times its
    width and height (at least one depth pixel); it is mapped from frame to depth-map coordinates
    (the map covers the whole frame, stretched). Upstream read one pixel (bug §6.2.11).
    """
    map_h, map_w = depth.shape
    scale_x, scale_y = FrameResize.stretch(frame_hw, depth.shape).scale_xy
    x1, y1, x2, y2 = (float(v) for v in np.asarray(face_box).reshape(4))
    cols = _patch_span((x1 + x2 + 1) / 2, patch * (x2 - x1 + 1), scale_x, map_w)
    rows = _patch_span((y1 + y2 + 1) / 2, patch * (y2 - y1 + 1), scale_y, map_h)
    return float(np.median(depth[rows, cols]))


def _patch_span(centre: float, size: float, scale: float, length: int) -> slice:
    """Depth-map index range covering ``[centre - size/2, centre + size/2]`` (frame units, continuous).

    ``scale`` converts frame to depth-map units. At least one index, always inside ``[0, length)``.
    """
    mid = min(max(centre * scale, 0.0), float(length))
    half = max(size, 0.0) * scale / 2
    start = min(max(math.floor(mid - half), 0), length - 1)
    stop = min(max(math.ceil(mid + half), start + 1), length)
    return slice(start, stop)


def near_mask(depth: np.ndarray, threshold: float, frame_hw: tuple[int, int]) -> np.ndarray:
    """bool (H, W): pixels whose depth is ``>= threshold`` (about as near as the face, or nearer).

    Thresholded on the (h, w) depth map, then resized to the frame with nearest neighbour.
    """
    near = (depth >= threshold).astype(np.uint8)
    return FrameResize.stretch(frame_hw, depth.shape).to_frame_map(near, cv2.INTER_NEAREST).view(bool)  # 0/1: no copy


def near_fraction(near: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """float32 (N,): the share of near pixels inside each (N, 4) inclusive box, clipped to the frame.

    A box that misses the frame gets 0. Slices never wrap around (upstream bug §6.2.6). One integral
    image (OpenCV's, int32, zero first row and column) makes the cost O(H*W + N).
    """
    bounds = box_pixel_bounds(boxes, near.shape)
    if bounds.shape[0] == 0:
        return np.zeros(0, np.float32)
    integral = cv2.integral(np.ascontiguousarray(near, dtype=bool).view(np.uint8))
    c1, r1, c2, r2 = bounds.T
    valid = (c2 >= c1) & (r2 >= r1)
    c1, r1, c2, r2 = (np.where(valid, v, 0) for v in (c1, r1, c2, r2))  # empty boxes: any valid index
    count = integral[r2 + 1, c2 + 1] - integral[r1, c2 + 1] - integral[r2 + 1, c1] + integral[r1, c1]
    area = (c2 - c1 + 1) * (r2 - r1 + 1)
    return np.where(valid, count / area, 0.0).astype(np.float32)


@dataclass(frozen=True)
class NearMap:
    """Which frame pixels are near, without the frame-sized mask: the thresholded (h, w) map and cv2's
    nearest-neighbour maps from frame rows and columns to its cells.

    ``near[r1:r2, c1:c2]`` and :meth:`fraction` give exactly what :func:`near_mask` (frame-sized) and
    :func:`near_fraction` on it give, at the cost of the box, not of the frame.
    """

    cells: np.ndarray  # bool (h, w): the depth map's near cells
    rows: np.ndarray  # int (H,): frame row -> cell row
    cols: np.ndarray  # int (W,): frame column -> cell column

    @classmethod
    def of(cls, depth: np.ndarray, threshold: float, frame_hw: tuple[int, int]) -> NearMap:
        """Cells ``depth >= threshold`` of the (h, w) map, spread over a ``frame_hw`` frame as cv2 INTER_NEAREST does."""
        cells = np.asarray(depth) >= threshold
        h, w = cells.shape
        height, width = frame_hw
        # cv2's own index maps: a column of row numbers (a row of column numbers) resized like the map
        rows = cv2.resize(np.arange(h, dtype=np.float32).reshape(h, 1), (1, height), interpolation=cv2.INTER_NEAREST)
        cols = cv2.resize(np.arange(w, dtype=np.float32).reshape(1, w), (width, 1), interpolation=cv2.INTER_NEAREST)
        return cls(cells, rows.reshape(-1).astype(np.intp), cols.reshape(-1).astype(np.intp))

    @classmethod
    def of_mask(cls, near: np.ndarray) -> NearMap:
        """A frame-sized bool mask as a NearMap (one cell per pixel)."""
        near = np.asarray(near, bool)
        return cls(near, np.arange(near.shape[0]), np.arange(near.shape[1]))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    def __getitem__(self, region: tuple[slice, slice]) -> np.ndarray:
        """bool: the near pixels of a frame region ``[rows, cols]`` (slices).

        Rows are taken first (cells of the map's width), then columns: one gather per pixel of the region,
        not the (pixel x index) broadcast of ``np.ix_``.
        """
        rows, cols = region
        return np.take(self.cells[self.rows[rows]], self.cols[cols], axis=1)

    def fraction(self, boxes: np.ndarray) -> np.ndarray:
        """float32 (N,): the share of near pixels inside each (N, 4) inclusive box (:func:`near_fraction`).

        Counted on the map, not on a frame-sized mask: a box's near pixels are ``wr @ cells @ wc``, where
        ``wr`` (``wc``) counts the box's frame rows (columns) that fall on each map row (column). Integer
        products, so the counts are exact and numpy's BLAS threads (which spin on every core) stay idle.
        """
        bounds = box_pixel_bounds(boxes, self.shape)
        if bounds.shape[0] == 0:
            return np.zeros(0, np.float32)
        cells = self.cells.astype(np.int64)
        shares = np.zeros(len(bounds), np.float32)
        for i, (c1, r1, c2, r2) in enumerate(bounds):
            if c2 < c1 or r2 < r1:
                continue
            wr = np.bincount(self.rows[r1 : r2 + 1], minlength=cells.shape[0])
            wc = np.bincount(self.cols[c1 : c2 + 1], minlength=cells.shape[1])
            shares[i] = (wr @ cells @ wc) / ((c2 - c1 + 1) * (r2 - r1 + 1))
        return shares
