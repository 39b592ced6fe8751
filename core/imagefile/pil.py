"""PIL image → array: the one conversion the engine, the widgets and the image readers share."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidImageError

__all__ = ["pil_to_array"]

_PIL_CONVERT = {
    "1": "L",
    "P": None,
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
}


def pil_to_array(image: Any) -> tuple[np.ndarray, str]:
    """A PIL image → (array, the mode it stands for): L/LA/RGB/RGBA as uint8, 16-bit modes as
    uint16, F as float32; other modes are converted to the nearest of those first."""
    mode = image.mode
    if mode in _PIL_CONVERT:
        target = _PIL_CONVERT[mode]
        if target is None:
            target = "RGBA" if "transparency" in image.info else "RGB"
        image, mode = image.convert(target), target
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16), "I;16"
    if mode == "I":  # Pillow's 16-bit PNG mode (int32 storage): 16-bit by its format, not its values
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16), "I"
    if mode == "F":
        return np.asarray(image, dtype=np.float32), "F"
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image), mode
    raise InvalidImageError(f"unsupported PIL image mode {mode!r}; convert it to RGB, RGBA, L or LA first")
