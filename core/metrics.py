"""Image quality metrics shared by the benchmark, the Compare node and the widgets.

Both take images of equal shape (H×W or H×W×C, any numeric dtype) and compare them on a
common scale: integers by their dtype's range, floats as 0..1.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .errors import InvalidImageError

__all__ = ["psnr", "ssim", "peak_value"]


def peak_value(image: np.ndarray) -> float:
    """The value of white: 255 for uint8, 65535 for uint16, 1.0 for floats."""
    if np.issubdtype(image.dtype, np.integer):
        return float(np.iinfo(image.dtype).max)
    return 1.0


def _prepare(a: np.ndarray, b: np.ndarray, crop_border: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise InvalidImageError(
            f"images must have the same shape to be compared; got {a.shape} and {b.shape}"
        )
    if a.ndim not in (2, 3) or a.size == 0:
        raise InvalidImageError(f"expected H×W or H×W×C images, got shape {a.shape}")
    if crop_border < 0 or 2 * crop_border >= min(a.shape[:2]):
        raise InvalidImageError(
            f"crop_border {crop_border} leaves nothing of a {a.shape[0]}×{a.shape[1]} image"
        )
    if crop_border:
        a, b = (
            a[crop_border:-crop_border, crop_border:-crop_border],
            b[crop_border:-crop_border, crop_border:-crop_border],
        )
    # Bring both to 0..1 by their own dtype's range, so uint8 vs float comparisons are meaningful.
    return a.astype(np.float64) / peak_value(a), b.astype(np.float64) / peak_value(b)


def psnr(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images)."""
    x, y = _prepare(a, b, crop_border)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0) -> float:
    """Structural similarity (Wang et al. 2004: Gaussian window 11, σ 1.5), averaged over channels."""
    x, y = _prepare(a, b, crop_border)
    if min(x.shape[:2]) < 11:
        raise InvalidImageError(f"SSIM needs images of at least 11×11 pixels, got {x.shape[0]}×{x.shape[1]}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = 0.01**2, 0.03**2
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = kernel @ kernel.T

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.filter2D(img, -1, window)[5:-5, 5:-5]  # valid region only

    scores = []
    for c in range(x.shape[2]):
        xc, yc = x[..., c], y[..., c]
        mu_x, mu_y = blur(xc), blur(yc)
        var_x = blur(xc * xc) - mu_x**2
        var_y = blur(yc * yc) - mu_y**2
        cov = blur(xc * yc) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        scores.append(float(ssim_map.mean()))
    return float(np.mean(scores))
