"""The three resize modes of Real-ESRGAN's degradation, to exact target sizes.

They behave like ``torch.nn.functional.interpolate(size=..., align_corners=False)``, without
antialiasing, as in training:

- ``area``: torch's area mode is adaptive average pooling: output pixel i averages input
  pixels floor(i·n/m) … ceil((i+1)·n/m) − 1. Implemented with cumulative sums (so it is also
  exact for non-integer ratios and for enlargement, where it repeats pixels).
- ``bilinear`` / ``bicubic`` (a = −0.75): OpenCV's INTER_LINEAR / INTER_CUBIC, which use the
  same half-pixel mapping and border clamping as torch (checked by the tests to ~1e-5).
"""

from __future__ import annotations

from numbers import Integral

import cv2
import numpy as np

from ..errors import InvalidImageError, InvalidParameterError
from ..options import DEGRADE_RESIZE_MODES

__all__ = ["RESIZE_MODES", "resize"]

RESIZE_MODES = DEGRADE_RESIZE_MODES
_CV2_MODES = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InvalidParameterError(f"resize {name} must be a positive integer; got {value!r}")
    return int(value)


def _area_axis(image: np.ndarray, out_len: int, axis: int) -> np.ndarray:
    in_len = image.shape[axis]
    if in_len == out_len:
        return image
    i = np.arange(out_len)
    start = (i * in_len) // out_len
    end = -((-(i + 1) * in_len) // out_len)  # ceil without floats
    shape = [1] * image.ndim
    shape[axis] = out_len
    counts = (end - start).reshape(shape)
    out_shape = list(image.shape)
    out_shape[axis] = out_len
    out = np.empty(out_shape, np.float32)
    # float64 prefix sums keep window means exact to float32 precision on large images; work
    # in blocks across the other axis so the float64 copy stays small (~32 MB).
    other = 1 - axis
    per_line = in_len * (image.shape[2] if image.ndim == 3 else 1)
    step = max(1, (1 << 22) // per_line)
    for first in range(0, image.shape[other], step):
        block = [slice(None)] * image.ndim
        block[other] = slice(first, first + step)
        csum = np.cumsum(image[tuple(block)], axis=axis, dtype=np.float64)
        csum = np.concatenate([np.zeros_like(np.take(csum, [0], axis=axis)), csum], axis=axis)
        total = np.take(csum, end, axis=axis) - np.take(csum, start, axis=axis)
        out[tuple(block)] = total / counts
    return out


def resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    """Resize a float H×W or H×W×C image to exactly ``height``×``width`` (float32 result)."""
    if mode not in RESIZE_MODES:
        raise InvalidParameterError(f"resize mode must be one of {', '.join(RESIZE_MODES)}; got {mode!r}")
    height, width = _check_size("height", height), _check_size("width", width)
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.size == 0:
        raise InvalidImageError(f"expected an H×W or H×W×C image, got shape {image.shape}")
    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.shape[:2] == (height, width):
        return image.copy()
    if mode == "area":
        return _area_axis(_area_axis(image, height, 0), width, 1)
    out = cv2.resize(image, (width, height), interpolation=_CV2_MODES[mode])
    return out.reshape((height, width) + image.shape[2:])
