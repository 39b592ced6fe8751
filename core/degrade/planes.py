"""Input images → float colour planes (+ alpha), and back to the caller's kind.

Accepted: numpy H×W, H×W×1, H×W×3 (RGB) or H×W×4 (RGBA); uint8, uint16 or float (16/32/64,
nominal range 0..1; values outside are clipped, NaN/inf refused).

What comes back (documented behaviour):

- Colour is degraded in float32 and, as in Real-ESRGAN, rounded to 8-bit levels at the end.
  uint8 → those levels; uint16 → the same levels × 257 (0 → 0, 255 → 65535: 16-bit storage of
  the 8-bit result, because that is what the network sees in training); float → level / 255
  in the input's float dtype.
- Gray stays gray (one channel is degraded; colour and gray noise coincide there).
- Alpha is not degraded (no sharpening, blur, noise or JPEG): it is resized from the input
  alpha straight to the output size with area averaging and keeps the input's precision
  (uint8, uint16 or float). Colour under transparent pixels is degraded like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidImageError
from .resize_modes import resize

__all__ = ["Planes", "split_image", "merge_planes"]

_INT_DTYPES = (np.uint8, np.uint16)


@dataclass(frozen=True)
class Planes:
    color: np.ndarray  # float32 H×W×C, C ∈ {1, 3}, 0..1
    alpha: np.ndarray | None  # float32 H×W×1, 0..1
    dtype: np.dtype
    shape_kind: str  # "hw", "hw1", "hwc"


def split_image(image: object) -> Planes:
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(
            f"expected a numpy array (H×W or H×W×C, RGB order); got {type(image).__name__}"
        )
    if image.ndim == 2:
        kind, channels = "hw", 1
    elif image.ndim == 3 and image.shape[2] in (1, 3, 4):
        kind, channels = ("hw1" if image.shape[2] == 1 else "hwc"), image.shape[2]
    else:
        raise InvalidImageError(
            f"expected an H×W, H×W×1, H×W×3 (RGB) or H×W×4 (RGBA) image; got shape {image.shape}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError(f"the image is empty (shape {image.shape})")
    if image.dtype in _INT_DTYPES:
        data = image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    elif np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise InvalidImageError("the image contains NaN or infinite values; clean it before degrading")
        data = np.clip(image.astype(np.float32), 0, 1)
    else:
        raise InvalidImageError(
            f"expected uint8, uint16 or float pixels; got {image.dtype}. Convert it first (e.g. to uint8)"
        )
    data = data.reshape(image.shape[0], image.shape[1], channels)
    color, alpha = (data[..., :3], data[..., 3:]) if channels == 4 else (data, None)
    return Planes(
        np.ascontiguousarray(color),
        None if alpha is None else np.ascontiguousarray(alpha),
        np.dtype(image.dtype),  # (the `in _INT_DTYPES` test above narrows image.dtype to scalar types)
        kind,
    )


def _from_unit(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype in _INT_DTYPES:
        peak = np.iinfo(dtype).max
        return np.clip(np.round(values * peak), 0, peak).astype(dtype)
    return values.astype(dtype)


def merge_planes(levels: np.ndarray, planes: Planes) -> np.ndarray:
    """``levels``: uint8 H'×W'×C colour; returns the caller's dtype and layout at H'×W'."""
    h, w = levels.shape[:2]
    if planes.dtype == np.uint8:
        color = levels
    elif planes.dtype == np.uint16:
        color = levels.astype(np.uint16) * np.uint16(257)
    else:
        color = (levels.astype(np.float32) / np.float32(255)).astype(planes.dtype)
    if planes.alpha is not None:
        alpha = _from_unit(resize(planes.alpha, h, w, "area").reshape(h, w, 1), planes.dtype)
        color = np.concatenate([color, alpha], axis=2)
    if planes.shape_kind == "hw":
        return color[..., 0]
    return color
