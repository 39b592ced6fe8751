"""JPEG compression through the real codec (OpenCV's libjpeg), in memory.

Real-ESRGAN's training uses DiffJPEG, a re-implementation of the same baseline JPEG (4:2:0
chroma, standard tables scaled by quality). We use the codec itself, so the artefacts are
those of real files; chroma subsampling is pinned to 4:2:0 where OpenCV lets us set it.
"""

from __future__ import annotations

import math
from numbers import Real

import cv2
import numpy as np

from ..errors import InvalidImageError, InvalidParameterError

__all__ = ["jpeg_compress", "check_quality"]


def check_quality(quality: object) -> int:
    """A JPEG quality must be an integer 0..100 (integral floats such as 75.0 are accepted)."""
    number = float(quality) if isinstance(quality, Real) and not isinstance(quality, bool) else math.nan
    if not number.is_integer():
        raise InvalidParameterError(f"JPEG quality must be an integer from 0 to 100; got {quality!r}")
    if not 0 <= number <= 100:
        raise InvalidParameterError(
            f"JPEG quality must be from 0 to 100 (30–95 in Real-ESRGAN); got {quality!r}"
        )
    return int(number)


def _encode_params(quality: int) -> list[int]:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    return params


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode a float image (H×W×1 or H×W×3 RGB, 0..1) at ``quality``.

    The image is clipped to 0..1 and rounded to 8 bits first (the codec is 8-bit); the result
    is float32 0..1 of the same shape.
    """
    quality = check_quality(quality)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (1, 3) or image.size == 0:
        raise InvalidImageError(f"JPEG expects a float H×W×1 or H×W×3 image, got shape {image.shape}")
    as_8bit = np.clip(np.round(image.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    # OpenCV encodes BGR (its colour conversion depends on the order): flip RGB around it.
    bgr = as_8bit[..., 0] if image.shape[2] == 1 else np.ascontiguousarray(as_8bit[..., ::-1])
    ok, encoded = cv2.imencode(".jpg", bgr, _encode_params(quality))
    if not ok:  # pragma: no cover - libjpeg does not refuse valid 8-bit input
        raise InvalidImageError(f"the JPEG encoder refused a {image.shape} image")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    if decoded is None:  # pragma: no cover - libjpeg decodes what it just encoded
        raise InvalidImageError(f"the JPEG decoder could not read back a {image.shape} image")
    if image.shape[2] == 1:
        decoded = decoded[..., None]
    else:
        decoded = decoded[..., ::-1]
    return decoded.astype(np.float32) / 255.0
