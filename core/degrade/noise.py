"""Gaussian and Poisson noise as Real-ESRGAN's training adds them (colour or gray).

Images are float H×W×C in 0..1 with C = 1 or 3 (RGB order). All randomness comes from the
``numpy.random.Generator`` passed in. Results are clipped to 0..1 (``clip=True, rounds=False``
in Real-ESRGAN).

Gray noise on a colour image is one noise plane added equally to R, G and B. On a
single-channel image colour and gray noise are the same thing.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError

__all__ = ["GRAY_WEIGHTS", "gaussian_noise", "poisson_noise", "add_gaussian_noise", "add_poisson_noise"]

#: torchvision's rgb_to_grayscale weights (R, G, B), used by Real-ESRGAN's gray Poisson noise.
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (1, 3) or image.size == 0:
        raise InvalidImageError(f"noise expects a float H×W×1 or H×W×3 image, got shape {image.shape}")
    return image.astype(np.float32, copy=False)


def _check_generator(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng).__name__}"
        )
    return rng


def gaussian_noise(image: np.ndarray, sigma: float, *, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean Gaussian noise of standard deviation ``sigma`` in 8-bit levels (σ/255 in 0..1)."""
    image = _check_image(image)
    rng = _check_generator(rng)
    if not math.isfinite(sigma) or sigma < 0:
        raise InvalidParameterError(
            f"Gaussian noise σ must be a finite number ≥ 0 in 8-bit levels (1–30 in Real-ESRGAN); got {sigma!r}"
        )
    h, w, c = image.shape
    if gray or c == 1:
        plane = rng.standard_normal((h, w, 1), dtype=np.float32)
        noise = np.repeat(plane, c, axis=2)
    else:
        noise = rng.standard_normal((h, w, c), dtype=np.float32)
    return noise * np.float32(sigma / 255.0)


def _shot_noise(levels_image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson noise of an image already rounded to 8-bit levels (float64 in 0..1).

    Photon counts are the values times 2^ceil(log2(number of distinct levels)), as in
    scikit-image and BasicSR: an image using 200 distinct levels is treated as 256 counts.
    """
    distinct = np.count_nonzero(
        np.bincount(np.rint(levels_image * 255).astype(np.int64).ravel(), minlength=256)
    )
    counts = 2.0 ** math.ceil(math.log2(max(distinct, 1)))
    return rng.poisson(levels_image * counts) / counts - levels_image


def poisson_noise(image: np.ndarray, scale: float, *, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent (shot) noise, multiplied by ``scale`` (0.05–3 in Real-ESRGAN).

    The image is first rounded to 8-bit levels to count its distinct values. Gray noise is
    computed on the luma (torchvision weights) and added to every channel.
    """
    image = _check_image(image)
    rng = _check_generator(rng)
    if not math.isfinite(scale) or scale < 0:
        raise InvalidParameterError(
            f"Poisson noise scale must be a finite number ≥ 0 (0.05–3 in Real-ESRGAN); got {scale!r}"
        )
    c = image.shape[2]
    if gray and c == 3:
        source = (
            image[..., 0:1] * GRAY_WEIGHTS[0]
            + image[..., 1:2] * GRAY_WEIGHTS[1]
            + image[..., 2:3] * GRAY_WEIGHTS[2]
        )
    else:
        source = image
    levels = np.clip(np.round(source.astype(np.float64) * 255.0), 0, 255) / 255.0
    noise = _shot_noise(levels, rng)
    if noise.shape[2] != c:
        noise = np.repeat(noise, c, axis=2)
    return (noise * scale).astype(np.float32)


def add_gaussian_noise(
    image: np.ndarray, sigma: float, *, gray: bool, rng: np.random.Generator
) -> np.ndarray:
    """``image`` plus Gaussian noise (σ in 8-bit levels), clipped to 0..1."""
    image = _check_image(image)
    return np.clip(image + gaussian_noise(image, sigma, gray=gray, rng=rng), 0, 1)


def add_poisson_noise(image: np.ndarray, scale: float, *, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """``image`` plus Poisson noise times ``scale``, clipped to 0..1."""
    image = _check_image(image)
    return np.clip(image + poisson_noise(image, scale, gray=gray, rng=rng), 0, 1)
