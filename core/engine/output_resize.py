"""Output size and the final float resize (the network's scale first, then this).

Sizes are rounded, not truncated (RealESRGANer's ``int()`` loses a pixel on 179 × 1.5). The
resize happens in float before quantisation, with antialiasing when shrinking (a plain
bicubic/Lanczos shrink aliases, which is what ComfyUI's ImageScaleBy and RealESRGANer's
outscale < 4 do).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..errors import InvalidParameterError

__all__ = ["upscaled_size", "resize_hwc"]


def _positive_int(value: object, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != int(value)
        or int(value) <= 0
    ):
        raise InvalidParameterError(f"{name} must be a positive whole number of pixels, got {value!r}")
    return int(value)


def upscaled_size(
    height: int,
    width: int,
    scale: float,
    *,
    outscale: float | None = None,
    target_width: int | None = None,
    target_height: int | None = None,
) -> tuple[int, int]:
    """Final (height, width): ``outscale`` × the input, or a target width and/or height.

    With only one of width/height the other follows the aspect ratio. ``scale`` is the default
    when nothing is asked (the network's scale, or a model's promised outscale).
    """
    if outscale is not None and (target_width is not None or target_height is not None):
        raise InvalidParameterError("give either outscale or a target width/height, not both")
    if target_width is not None or target_height is not None:
        tw = _positive_int(target_width, "width") if target_width is not None else None
        th = _positive_int(target_height, "height") if target_height is not None else None
        if tw is None:
            assert th is not None
            tw = max(1, round(width * th / height))
        if th is None:
            th = max(1, round(height * tw / width))
        return th, tw
    factor = scale if outscale is None else outscale
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not math.isfinite(factor)
        or factor <= 0
    ):
        raise InvalidParameterError(f"outscale must be a number > 0, got {outscale!r}")
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize_hwc(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize a float32 H×W×C tensor to ``height``×``width`` (bicubic, antialiased when shrinking).

    Returns an H×W×C view over a channels-last result (no extra copy), clamped to 0..1.
    """
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    shrinking = height < h or width < w
    nchw = image.permute(2, 0, 1)[None]  # an H×W×C buffer is a channels-last NCHW tensor
    out = F.interpolate(nchw, size=(height, width), mode="bicubic", align_corners=False, antialias=shrinking)
    return out[0].permute(1, 2, 0).clamp_(0.0, 1.0)
