"""Reflect-padded 2-D filtering and USM sharpening.

Real-ESRGAN filters with ``torch.nn.functional.pad(mode='reflect')`` followed by ``conv2d``:
reflection that does not repeat the edge pixel (…c b | a b c…), which is OpenCV's
``BORDER_REFLECT_101``, and a correlation (no kernel flip), which is what ``cv2.filter2D``
computes. The tests check both against torch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import InvalidImageError, InvalidParameterError

__all__ = ["filter2d", "usm_sharpen", "gaussian_1d", "opencv_gaussian_sigma"]


def _as_float_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.size == 0:
        raise InvalidImageError(f"expected an H×W or H×W×C float image, got shape {image.shape}")
    if image.dtype != np.float32:
        image = image.astype(np.float32)
    return np.ascontiguousarray(image)


def _restore_shape(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    # OpenCV drops a trailing channel axis of length 1; keep the caller's layout.
    return out.reshape(like.shape)


def filter2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel with ``kernel`` using reflect (…c b | a b c…) padding.

    ``image`` is float H×W or H×W×C (returned as float32 of the same shape); ``kernel`` a
    square odd-sized 2-D array.
    """
    image = _as_float_image(image)
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise InvalidParameterError(f"expected a square kernel of odd size, got shape {kernel.shape}")
    out = cv2.filter2D(image, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return _restore_shape(out, image)


def opencv_gaussian_sigma(kernel_size: int) -> float:
    """σ that OpenCV's getGaussianKernel picks for sigma ≤ 0: 0.3·((k−1)/2 − 1) + 0.8 (8.0 for 51)."""
    return 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8


def gaussian_1d(kernel_size: int, sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of odd length ``kernel_size`` (float64)."""
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, int)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise InvalidParameterError(
            f"the USM kernel size must be an odd positive integer (51 in Real-ESRGAN); got {kernel_size!r}"
        )
    if not math.isfinite(sigma) or sigma <= 0:
        raise InvalidParameterError(
            f"the USM Gaussian σ must be a finite number > 0 (8 in Real-ESRGAN); got {sigma!r}"
        )
    half = kernel_size // 2
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def usm_sharpen(
    image: np.ndarray,
    *,
    weight: float = 0.5,
    kernel_size: int = 51,
    sigma: float = 8.0,
    threshold: float = 10.0,
) -> np.ndarray:
    """Unsharp masking as Real-ESRGAN sharpens the ground truth (``USMSharp``, radius 50 → 51).

    residual = I − blur(I); mask = |residual|·255 > threshold (per channel), softened by the
    same blur; result = mask·clip(I + weight·residual, 0, 1) + (1 − mask)·I. ``threshold`` is
    in 8-bit levels. Input and output are float images in 0..1.
    """
    if not math.isfinite(weight) or weight < 0:
        raise InvalidParameterError(
            f"the USM weight must be a finite number ≥ 0 (0.5 in Real-ESRGAN); got {weight!r}"
        )
    if not math.isfinite(threshold) or threshold < 0:
        raise InvalidParameterError(
            f"the USM threshold must be ≥ 0 in 8-bit levels (10 in Real-ESRGAN); got {threshold!r}"
        )
    image = _as_float_image(image)
    g = gaussian_1d(kernel_size, sigma).astype(np.float32)

    def blur(a: np.ndarray) -> np.ndarray:
        # The 2-D Gaussian is the outer product g·gᵀ, so two 1-D passes give the same image.
        return _restore_shape(cv2.sepFilter2D(a, -1, g, g, borderType=cv2.BORDER_REFLECT_101), a)

    residual = image - blur(image)
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft_mask = blur(mask)
    sharp = np.clip(image + weight * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * image
