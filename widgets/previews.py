"""Images for display: whatever the user hands over → a numpy array → small PNG previews.

Only display concerns live here (8-bit conversion of a preview, shrinking it so the browser is
not sent a 16-megapixel PNG); file decoding is ``core.imagefile.arrays``, upscaling is ``core.engine``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..core.errors import InvalidImageError
from ..core.imagefile.arrays import decode_image, encode_image, pil_to_array, read_image

__all__ = [
    "as_array",
    "to_display_uint8",
    "preview_png",
    "describe",
    "center_crop",
    "crop_fraction",
    "DEFAULT_PREVIEW_SIDE",
]

DEFAULT_PREVIEW_SIDE = 1280
"""Longest side of a preview sent to the browser; the full-resolution array stays in Python."""


def _from_pil(image: Any) -> np.ndarray:
    if image.mode in ("LA", "La"):  # the views show gray, RGB or RGBA: gray + alpha becomes RGBA
        image = image.convert("RGBA")
    return np.ascontiguousarray(pil_to_array(image)[0])


def _check_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
        raise InvalidImageError(
            f"expected an H×W (gray), H×W×3 (RGB) or H×W×4 (RGBA) array, got shape {array.shape}"
        )
    if array.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InvalidImageError(f"expected uint8, uint16 or float pixels, got {array.dtype}")
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return array


def as_array(image: Any) -> np.ndarray:
    """A path, encoded bytes, a PIL image or a numpy array → an RGB(A)/gray numpy array.

    Floats are kept as float32 in 0..1; 8- and 16-bit integers are kept as they are.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(image, name="uploaded file")
    if isinstance(image, np.ndarray):
        return _check_array(image)
    if (
        hasattr(image, "mode") and hasattr(image, "convert") and hasattr(image, "size")
    ):  # PIL, without importing it
        return _check_array(_from_pil(image))
    raise InvalidImageError(
        f"cannot use a {type(image).__name__} as an image; give a file path, image file bytes, "
        "a PIL image or a numpy array (H×W, H×W×3 or H×W×4)"
    )


def to_display_uint8(image: np.ndarray) -> np.ndarray:
    """An 8-bit copy for the screen (16-bit and float previews only; never used for results)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.rint(np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0).astype(np.uint8)


def preview_png(image: np.ndarray, max_side: int = DEFAULT_PREVIEW_SIDE) -> bytes:
    """PNG bytes of an 8-bit preview whose longest side is at most ``max_side``."""
    preview = to_display_uint8(image)
    height, width = preview.shape[:2]
    longest = max(height, width)
    if longest > max_side:
        ratio = max_side / longest
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        preview = cv2.resize(preview, size, interpolation=cv2.INTER_AREA)
    return encode_image(preview, ".png")


def describe(image: np.ndarray) -> str:
    """``179×179 RGB uint8``: size (width×height), channels, pixel type."""
    kind = {2: "gray"}.get(image.ndim) or {3: "RGB", 4: "RGBA"}[image.shape[2]]
    return f"{image.shape[1]}×{image.shape[0]} {kind} {image.dtype}"


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The central ``height``×``width`` window (or the whole image along a shorter side)."""
    h, w = image.shape[:2]
    height, width = min(height, h), min(width, w)
    top, left = (h - height) // 2, (w - width) // 2
    return image[top : top + height, left : left + width]


def crop_fraction(
    image: np.ndarray, region: tuple[float, float, float, float]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Crop ``(x0, y0, x1, y1)`` given as fractions of the width/height, snapped outwards to whole pixels.

    Returns the crop and its pixel box ``(left, top, right, bottom)``.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = region
    left, top = int(np.floor(x0 * w)), int(np.floor(y0 * h))
    right, bottom = int(np.ceil(x1 * w)), int(np.ceil(y1 * h))
    left, top = min(max(left, 0), w - 1), min(max(top, 0), h - 1)
    right, bottom = min(max(right, left + 1), w), min(max(bottom, top + 1), h)
    return image[top:bottom, left:right], (left, top, right, bottom)
