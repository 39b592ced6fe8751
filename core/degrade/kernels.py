"""Blur kernels of the Real-ESRGAN degradation: Gaussian, generalized Gaussian, plateau, sinc.

Pure numpy, computed in float64 and normalised to sum 1. Coordinates: ``x`` is the column
offset from the centre (positive to the right), ``y`` the row offset (positive downwards);
``theta`` rotates the (σx, σy) axes in that frame, as BasicSR's ``mesh_grid`` does. Every
kernel here is point-symmetric (k(x, y) = k(−x, −y)), so correlation (cv2.filter2D, torch
conv2d) and convolution give the same result.

Closed forms (q is the Mahalanobis form xᵀΣ⁻¹x, Σ = R(θ)·diag(σx², σy²)·R(θ)ᵀ):

- Gaussian            exp(−q/2)
- generalized         exp(−½·q^β)
- plateau             1 / (1 + q^β)
- sinc (circular low-pass)  ω·J1(ω·r) / (2π·r), centre ω²/(4π)
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from ..errors import InvalidParameterError

__all__ = [
    "MIXED_KERNEL_TYPES",
    "KERNEL_TYPES",
    "KERNEL_PAD",
    "bessel_j1",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "plateau_kernel",
    "sinc_kernel",
    "pad_kernel",
]

#: The six "mixed" kernel types of Real-ESRGAN, in the order of its ``kernel_prob`` list.
MIXED_KERNEL_TYPES: tuple[str, ...] = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
#: Every kernel kind a record may name.
KERNEL_TYPES: tuple[str, ...] = MIXED_KERNEL_TYPES + ("sinc",)
#: Real-ESRGAN zero-pads every blur and sinc kernel to 21×21 (``blur_kernel_size``).
KERNEL_PAD = 21

# Trapezoid nodes for J1. The integrand of Bessel's integral is 2π-periodic and analytic, so
# the trapezoid rule is exact up to J_{N±1}(x) aliasing terms: with N = 128 that is below
# 1e-15 for every argument a 21×21 kernel can produce (ω·r ≤ π·10√2 ≈ 44.4).
_J1_NODES = np.linspace(-math.pi, math.pi, 128, endpoint=False)


def bessel_j1(x: np.ndarray | float) -> np.ndarray:
    """Bessel function of the first kind, order 1 (numpy has none; scipy is not a dependency).

    Uses Bessel's integral J1(x) = (1/2π)∫ cos(τ − x·sin τ) dτ over one period. Accurate to
    ~1e-15 for |x| ≤ 60; intended for kernel radii, not as a general special function.
    """
    x = np.asarray(x, dtype=np.float64)
    phase = _J1_NODES - x[..., None] * np.sin(_J1_NODES)
    return np.cos(phase).mean(axis=-1)


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, Integral) or size < 1 or size % 2 == 0:
        raise InvalidParameterError(
            f"kernel size must be an odd positive integer (7, 9, ..., 21 in Real-ESRGAN); got {size!r}"
        )
    return int(size)


def _check_positive(name: str, value: object, hint: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"{name} must be a finite number > 0{hint}; got {value!r}")
    return float(value)


def _check_theta(theta: object) -> float:
    if isinstance(theta, bool) or not isinstance(theta, Real) or not math.isfinite(theta):
        raise InvalidParameterError(f"theta (rotation in radians) must be a finite number; got {theta!r}")
    return float(theta)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    half = size // 2
    axis = np.arange(-half, half + 1, dtype=np.float64)
    x, y = np.meshgrid(axis, axis)  # x varies along columns, y along rows
    return x, y


def _mahalanobis(size: int, sigma_x: float, sigma_y: float | None, theta: float) -> np.ndarray:
    """q = xᵀΣ⁻¹x on the kernel grid; an isotropic kernel passes sigma_y=None (θ ignored)."""
    size = _check_size(size)
    sigma_x = _check_positive("sigma_x", sigma_x, " (blur σ in pixels)")
    if sigma_y is None:
        sigma_y, theta = sigma_x, 0.0
    sigma_y = _check_positive("sigma_y", sigma_y, " (blur σ in pixels)")
    theta = _check_theta(theta)
    x, y = _grid(size)
    c, s = math.cos(theta), math.sin(theta)
    # Coordinates in the rotated frame: Rᵀ·(x, y), so Σ⁻¹ = R·diag(1/σx², 1/σy²)·Rᵀ.
    u = c * x + s * y
    v = -s * x + c * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def _normalised(kernel: np.ndarray) -> np.ndarray:
    total = float(kernel.sum())
    if not math.isfinite(total) or total <= 0:
        raise InvalidParameterError(
            f"the kernel sums to {total}; its parameters give no usable low-pass filter"
        )
    return kernel / total


def _check_beta(beta: object) -> float:
    return _check_positive("beta", beta, " (shape exponent; 1 is the plain Gaussian / Cauchy-like plateau)")


def gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """Isotropic (sigma_y None) or anisotropic Gaussian exp(−½·xᵀΣ⁻¹x), sum 1, float64."""
    return _normalised(np.exp(-0.5 * _mahalanobis(size, sigma_x, sigma_y, theta)))


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, *, beta: float
) -> np.ndarray:
    """Generalized Gaussian exp(−½·(xᵀΣ⁻¹x)^β), sum 1, float64."""
    beta = _check_beta(beta)
    return _normalised(np.exp(-0.5 * np.power(_mahalanobis(size, sigma_x, sigma_y, theta), beta)))


def plateau_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, *, beta: float
) -> np.ndarray:
    """Plateau-shaped 1 / (1 + (xᵀΣ⁻¹x)^β), sum 1, float64."""
    beta = _check_beta(beta)
    return _normalised(1.0 / (1.0 + np.power(_mahalanobis(size, sigma_x, sigma_y, theta), beta)))


def sinc_kernel(size: int, omega: float) -> np.ndarray:
    """Circular low-pass ("2-D sinc") ω·J1(ω·r)/(2π·r) with centre ω²/(4π), sum 1, float64.

    ``omega`` is the cut-off in radians per pixel, 0 < ω ≤ π (π is the Nyquist frequency).
    """
    size = _check_size(size)
    omega = _check_positive("omega", omega, " (sinc cut-off in radians, at most π)")
    if omega > math.pi + 1e-12:
        raise InvalidParameterError(
            f"omega (sinc cut-off) must be at most π ≈ 3.1416 (Nyquist); got {omega!r}"
        )
    x, y = _grid(size)
    r = np.hypot(x, y)
    kernel = np.empty_like(r)
    off = r > 0
    # a square grid has few distinct radii (66 of 441 at 21×21): J1 once per radius
    radii, where = np.unique(r[off], return_inverse=True)
    kernel[off] = (omega * bessel_j1(omega * radii) / (2 * math.pi * radii))[where]
    kernel[~off] = omega**2 / (4 * math.pi)  # the limit of the formula at r → 0
    return _normalised(kernel)


def pad_kernel(kernel: np.ndarray, size: int = KERNEL_PAD) -> np.ndarray:
    """Zero-pad a square odd kernel to ``size``×``size`` (Real-ESRGAN pads every kernel to 21).

    Filtering with the padded kernel gives the same image as with the unpadded one (the extra
    weights are zero and reflect padding maps the same pixels), so the pipeline filters with
    the small one and this exists for display and export.
    """
    size = _check_size(size)
    k = kernel.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != k or k % 2 == 0:
        raise InvalidParameterError(f"expected a square kernel of odd size; got shape {kernel.shape}")
    if k > size:
        raise InvalidParameterError(f"cannot pad a {k}×{k} kernel to the smaller size {size}")
    pad = (size - k) // 2
    return np.pad(kernel, pad)
