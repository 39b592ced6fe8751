"""The parts usable alone: filtering, USM, resize, noise, JPEG (torch is the reference where
Real-ESRGAN trains with torch ops)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from realesrgan_kit.core.degrade import (
    add_gaussian_noise,
    add_poisson_noise,
    filter2d,
    gaussian_kernel,
    gaussian_noise,
    jpeg_compress,
    poisson_noise,
    resize,
    usm_sharpen,
)
from realesrgan_kit.core.degrade.filters import opencv_gaussian_sigma
from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError


def smooth_image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.random((max(h // 4, 2), max(w // 4, 2), c)).astype(np.float32)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, c)
    return np.clip(out + rng.normal(0, 0.03, out.shape).astype(np.float32), 0, 1)


def to_torch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def from_torch(t: torch.Tensor) -> np.ndarray:
    return t[0].numpy().transpose(1, 2, 0)


def torch_filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """BasicSR's filter2D: reflect pad by k//2, then conv2d per channel."""
    t = to_torch(img)
    k = kernel.shape[0]
    c = t.shape[1]
    padded = F.pad(t, (k // 2,) * 4, mode="reflect")
    weight = torch.from_numpy(kernel.astype(np.float32))[None, None].repeat(c, 1, 1, 1)
    return from_torch(F.conv2d(padded, weight, groups=c))


def test_filter2d_equals_torch_reflect_conv_even_for_asymmetric_kernels():
    img = smooth_image(40, 33)
    rng = np.random.default_rng(1)
    asymmetric = rng.random((9, 9))
    asymmetric /= asymmetric.sum()
    for kernel in (gaussian_kernel(21, 2.0, 0.7, 0.5), asymmetric):
        np.testing.assert_allclose(filter2d(img, kernel), torch_filter2d(img, kernel), atol=2e-6)


def test_filter2d_keeps_single_channel_layout():
    img = smooth_image(20, 20, c=1)
    assert filter2d(img, gaussian_kernel(7, 1.0)).shape == (20, 20, 1)
    assert filter2d(img[..., 0], gaussian_kernel(7, 1.0)).shape == (20, 20)


def test_usm_matches_realesrgan_usmsharp_in_torch():
    img = smooth_image(64, 48)
    # Real-ESRGAN's USMSharp(radius=50): 51 taps, σ from OpenCV's rule (0 → 8.0), same blur on the mask.
    assert opencv_gaussian_sigma(51) == pytest.approx(8.0)
    g = cv2.getGaussianKernel(51, 0)
    kernel = (g @ g.T).astype(np.float64)
    blur = torch_filter2d(img, kernel)
    residual = img - blur
    mask = (np.abs(residual) * 255 > 10).astype(np.float32)
    soft = torch_filter2d(mask, kernel)
    expected = soft * np.clip(img + 0.5 * residual, 0, 1) + (1 - soft) * img
    np.testing.assert_allclose(usm_sharpen(img), expected, atol=1e-5)


def test_usm_sharpens_edges_and_leaves_flat_areas():
    img = np.full((60, 60, 3), 0.5, np.float32)
    img[:, 30:] = 0.7
    out = usm_sharpen(img)
    assert out[30, 29, 0] < 0.5 and out[30, 30, 0] > 0.7  # overshoot on both sides of the step
    np.testing.assert_allclose(out[:, :3], img[:, :3], atol=1e-3)


@pytest.mark.parametrize("size", [(20, 30), (15, 17), (60, 80), (37, 53), (74, 106), (9, 13), (18, 26)])
@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic"])
def test_resize_matches_torch_interpolate(size, mode):
    img = smooth_image(37, 53)
    expected = from_torch(F.interpolate(to_torch(img), size=size, mode=mode))
    out = resize(img, size[0], size[1], mode)
    assert out.shape == size + (3,) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_area_resize_of_a_large_image_works_in_blocks_and_matches_torch():
    # 1500 rows × 3 channels per column: the float64 prefix sums are taken in several blocks.
    img = np.random.default_rng(3).random((1500, 1000, 3), dtype=np.float32)
    expected = from_torch(F.interpolate(to_torch(img), size=(700, 333), mode="area"))
    np.testing.assert_allclose(resize(img, 700, 333, "area"), expected, atol=1e-6)


def test_resize_gray_and_identity():
    img = smooth_image(10, 12, c=1)
    assert resize(img, 5, 6, "bicubic").shape == (5, 6, 1)
    np.testing.assert_array_equal(resize(img, 10, 12, "area"), img)


def test_resize_rejects_bad_arguments():
    with pytest.raises(InvalidParameterError, match="resize mode must be one of area, bilinear, bicubic"):
        resize(smooth_image(8, 8), 4, 4, "nearest")
    with pytest.raises(InvalidParameterError, match="height must be a positive integer"):
        resize(smooth_image(8, 8), 0, 4, "area")


def test_gaussian_noise_statistics_colour_and_gray():
    img = np.full((200, 200, 3), 0.5, np.float32)
    colour = gaussian_noise(img, 20, gray=False, rng=np.random.default_rng(0))
    assert colour.std() == pytest.approx(20 / 255, rel=0.02)
    assert abs(np.corrcoef(colour[..., 0].ravel(), colour[..., 1].ravel())[0, 1]) < 0.02
    gray = gaussian_noise(img, 20, gray=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    assert gray.std() == pytest.approx(20 / 255, rel=0.02)


def test_noise_is_clipped_and_reproducible():
    img = np.full((50, 50, 3), 0.98, np.float32)
    a = add_gaussian_noise(img, 30, gray=False, rng=np.random.default_rng(3))
    b = add_gaussian_noise(img, 30, gray=False, rng=np.random.default_rng(3))
    assert a.max() <= 1.0 and a.min() >= 0.0
    np.testing.assert_array_equal(a, b)


def test_poisson_noise_variance_follows_the_signal():
    # Eight distinct levels → 2^ceil(log2 8) = 8 "photons" at full scale: var(noise) = level / 8.
    levels = (np.arange(8) * 32 + 16) / 255.0
    img = np.repeat(levels, 4000).reshape(8, 4000, 1).astype(np.float32)
    noise = poisson_noise(img, 1.0, gray=False, rng=np.random.default_rng(0))
    for row, level in zip(noise[..., 0], np.round(levels * 255) / 255, strict=False):
        assert row.mean() == pytest.approx(0.0, abs=4 * np.sqrt(level / 8 / 4000) + 1e-9)
        assert row.var() == pytest.approx(level / 8, rel=0.1)


def test_poisson_gray_noise_is_equal_on_all_channels_and_scales():
    img = smooth_image(40, 40)
    gray = poisson_noise(img, 2.0, gray=True, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(gray[..., 0], gray[..., 1])
    half = poisson_noise(img, 1.0, gray=True, rng=np.random.default_rng(1))
    np.testing.assert_allclose(gray, 2 * half, atol=1e-6)
    out = add_poisson_noise(img, 3.0, gray=False, rng=np.random.default_rng(2))
    assert 0 <= out.min() and out.max() <= 1


def test_noise_rejects_bad_parameters():
    img = smooth_image(8, 8)
    with pytest.raises(InvalidParameterError, match="σ must be a finite number ≥ 0"):
        gaussian_noise(img, -1, gray=False, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="scale must be a finite number ≥ 0"):
        poisson_noise(img, -0.1, gray=False, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="numpy.random.Generator"):
        gaussian_noise(img, 1, gray=False, rng=np.random)  # pyright: ignore[reportArgumentType]  # the global RNG is refused


def test_jpeg_is_the_real_codec_and_keeps_rgb_order():
    img = smooth_image(64, 64)
    img[:32, :32] = (1.0, 0.0, 0.0)  # pure red must stay red (a BGR mix-up would turn it blue)
    low, high = jpeg_compress(img, 20), jpeg_compress(img, 95)
    assert low.shape == img.shape and low.dtype == np.float32
    assert np.abs(high - img).mean() < np.abs(low - img).mean()
    assert low[8, 8, 0] > 0.8 and low[8, 8, 2] < 0.2
    # Same bytes as encoding the 8-bit image with OpenCV directly.
    as8 = np.round(img * 255).astype(np.uint8)[..., ::-1]
    _ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(as8), [cv2.IMWRITE_JPEG_QUALITY, 20])
    np.testing.assert_array_equal(
        np.round(low * 255).astype(np.uint8), cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    )


def test_jpeg_gray_and_quality_errors():
    gray = smooth_image(32, 32, c=1)
    assert jpeg_compress(gray, 50).shape == (32, 32, 1)
    for bad in (101, -1, 50.5, True):
        with pytest.raises(InvalidParameterError, match="JPEG quality must be"):
            jpeg_compress(gray, bad)  # pyright: ignore[reportArgumentType]  # a wrong type on purpose: the test checks the error
    with pytest.raises(InvalidImageError, match="H×W×1 or H×W×3"):
        jpeg_compress(np.zeros((8, 8, 4), np.float32), 50)
