"""Figures for temporal stability (issue 21): how much an upscaled clip flickers, whether it
stayed sharp, and a picture of it.

All functions take sequences of frames (H×W×C or H×W arrays of any dtype; uint8 and uint16
are read on their 0-255 / 0-65535 scale and reported on the 0-255 scale, float on 0-1 → 0-255)
and need only NumPy and OpenCV, so the widget and the notebook can use them without a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import InvalidImageError

__all__ = ["temporal_error", "temporal_error_proxy", "warped_error", "sharpness", "temporal_profile"]


def _as_255(frame: np.ndarray) -> np.ndarray:
    """float32 on the 0-255 scale, H×W×C."""
    data = np.asarray(frame)
    if data.dtype == np.uint8:
        scaled = data.astype(np.float32)
    elif data.dtype == np.uint16:
        scaled = data.astype(np.float32) * np.float32(255.0 / 65535.0)
    else:
        scaled = data.astype(np.float32) * np.float32(255.0)
    return scaled if scaled.ndim == 3 else scaled[:, :, None]


def _check_pairs(frames: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> None:
    if len(frames) != len(reference) or len(frames) < 2:
        raise InvalidImageError(
            f"temporal_error needs two clips of the same length, at least 2 frames; got "
            f"{len(frames)} and {len(reference)} frames."
        )


def temporal_error(frames: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """E_t = mean |(F_t − F_t−1) − (R_t − R_t−1)| on the 0-255 scale, over all frames and pixels.

    It measures how differently the clip changes from one frame to the next than the reference
    does: flicker and crawling detail raise it; motion that the reference also has does not.
    With the ground truth as reference it is the issue's flicker figure; with the bicubic
    upscale of the input it is :func:`temporal_error_proxy`."""
    _check_pairs(frames, reference)
    total = 0.0
    previous = previous_ref = None
    for frame, ref in zip(frames, reference, strict=True):
        current, current_ref = _as_255(frame), _as_255(ref)
        if current.shape != current_ref.shape:
            raise InvalidImageError(
                f"temporal_error: frame {current.shape} and reference {current_ref.shape} differ in size; "
                "resize the reference to the output size first."
            )
        if previous is not None and previous_ref is not None:
            total += float(np.mean(np.abs((current - previous) - (current_ref - previous_ref))))
        previous, previous_ref = current, current_ref
    return total / (len(frames) - 1)


def temporal_error_proxy(frames: Sequence[np.ndarray], inputs: Sequence[np.ndarray]) -> float:
    """E_t against the bicubic upscale of the model's input frames: a no-reference flicker
    figure for clips without ground truth (the widget, the notebook).

    Bicubic changes from frame to frame exactly as its input does, so this counts the frame to
    frame change that the input does not explain. It is not comparable across clips, only
    between outputs of the same clip (frame-wise against stabilised)."""
    _check_pairs(frames, inputs)
    height, width = np.asarray(frames[0]).shape[:2]
    bicubic = [_bicubic(np.asarray(frame), width, height) for frame in inputs]
    return temporal_error(frames, bicubic)


def _bicubic(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    big = cv2.resize(_as_255(frame), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0, 255).reshape(height, width, -1)


def warped_error(frames: Sequence[np.ndarray], flow_from: Sequence[np.ndarray] | None = None) -> float:
    """Flow-warped error: mean |F_t − warp(F_t−1)| (0-255) where the warp follows the motion
    between the frames, so motion itself costs nothing and what remains is flicker, crawl and
    the flow's own misses (occlusions).

    The flow is DIS (OpenCV, preset medium) computed on ``flow_from`` (e.g. the ground truth or
    the bicubic upscale, the same size as ``frames``), or on ``frames`` themselves when None.
    Compare figures only between outputs of the same clip with the same ``flow_from``."""
    source = frames if flow_from is None else flow_from
    if len(source) != len(frames) or len(frames) < 2:
        raise InvalidImageError(
            f"warped_error needs at least 2 frames and as many flow frames, got {len(frames)}."
        )
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    total = 0.0
    for t in range(1, len(frames)):
        flow = dis.calc(_grey8(source[t]), _grey8(source[t - 1]), np.empty(0, np.float32))
        h, w = flow.shape[:2]
        grid = np.indices((h, w), dtype=np.float32)
        previous = _as_255(frames[t - 1])
        warped = cv2.remap(previous, grid[1] + flow[:, :, 0], grid[0] + flow[:, :, 1], cv2.INTER_LINEAR)
        total += float(np.mean(np.abs(_as_255(frames[t]) - warped.reshape(previous.shape))))
    return total / (len(frames) - 1)


def _grey8(frame: np.ndarray) -> np.ndarray:
    data = _as_255(frame)
    channels = 3 if data.shape[2] >= 3 else 1
    return np.clip(data[:, :, :channels].mean(axis=2) + 0.5, 0, 255).astype(np.uint8)


def sharpness(frames: Sequence[np.ndarray]) -> float:
    """Mean gradient magnitude (0-255 per pixel, Sobel 3×3 / 8, colour channels averaged) over
    all frames: blur lowers it, so a stabiliser that trades flicker for blur shows here."""
    if len(frames) == 0:
        raise InvalidImageError("sharpness needs at least one frame, got none.")
    total = 0.0
    for frame in frames:
        data = _as_255(frame)
        data = data[:, :, : 3 if data.shape[2] >= 3 else 1]
        gx = cv2.Sobel(data, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(data, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        total += float(np.mean(np.sqrt(gx * gx + gy * gy)))
    return total / len(frames)


def temporal_profile(
    frames: Sequence[np.ndarray], row: int | None = None, column: int | None = None
) -> np.ndarray:
    """One row (or column) of pixels from every frame stacked over time: an image whose
    vertical axis is time. Steady content draws straight or slanted lines; flicker draws
    noise across them.

    ``row`` picks a row (the middle one when neither is given): the result is T×W×C.
    ``column`` picks a column instead: the result is H×T×C (time runs left to right).
    The dtype is the frames'."""
    if len(frames) == 0:
        raise InvalidImageError("temporal_profile needs at least one frame, got none.")
    if row is not None and column is not None:
        raise InvalidImageError("temporal_profile takes a row or a column, not both.")
    first = np.asarray(frames[0])
    if column is not None:
        index = _index(column, first.shape[1], "column")
        return np.stack([np.asarray(f)[:, index] for f in frames], axis=1)
    index = _index(first.shape[0] // 2 if row is None else row, first.shape[0], "row")
    return np.stack([np.asarray(f)[index] for f in frames], axis=0)


def _index(value: int, size: int, what: str) -> int:
    if not -size <= value < size:
        raise InvalidImageError(f"temporal_profile: {what} {value} is outside the frame (size {size}).")
    return value % size
