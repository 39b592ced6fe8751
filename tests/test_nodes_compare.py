"""Compare node: PSNR / SSIM as numbers and text, batches, size mismatches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from realesrgan_kit.core.errors import InvalidImageError
from realesrgan_kit.core.metrics import psnr, ssim

NODE = "RealESRGANKitCompare"


def _image(height=40, width=48, batch=1, seed=0, low=0.1, high=0.8) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(batch, height, width, 3, generator=gen)


def _run(env, reference, image, crop_border=0, size_mismatch="error"):
    return env.execution.run_node(
        env.node, reference=reference, image=image, crop_border=crop_border, size_mismatch=size_mismatch
    )


def test_identical_images(comfy):
    ref = _image()
    (value, similarity, report), ui = _run(comfy, ref, ref.clone())
    assert math.isinf(value) and similarity == pytest.approx(1.0)
    assert report.startswith("PSNR inf (identical), SSIM 1.0000")
    assert ui == {"text": [report]}


def test_known_offset_gives_the_exact_psnr(comfy):
    ref = _image()
    (value, similarity, report), _ = _run(comfy, ref, ref + 0.05)  # MSE = 0.0025
    assert value == pytest.approx(10 * math.log10(1 / 0.0025), abs=1e-4)
    assert 0.0 < similarity < 1.0
    assert f"PSNR {value:.2f} dB" in report


def test_matches_core_metrics_with_crop_border(comfy):
    ref, other = _image(seed=1), _image(seed=2)
    (value, similarity, _), _ = _run(comfy, ref, other, crop_border=4)
    a, b = ref[0].numpy(), other[0].numpy()
    assert value == pytest.approx(psnr(a, b, crop_border=4))
    assert similarity == pytest.approx(ssim(a, b, crop_border=4))


def test_a_single_reference_is_compared_with_every_image_of_a_batch(comfy):
    ref = _image()
    batch = torch.cat([ref + 0.02, ref + 0.05, ref])
    (value, _, report), _ = _run(comfy, ref, batch)
    assert math.isinf(value)  # one identical pair makes the mean infinite
    lines = report.splitlines()
    assert lines[0].startswith("mean over 3 images") and len(lines) == 4
    assert "image 1: PSNR 26.02 dB" in report
    (finite, _, _), _ = _run(comfy, ref, batch[:2])
    expected = np.mean([10 * math.log10(1 / 0.02**2), 10 * math.log10(1 / 0.05**2)])
    assert finite == pytest.approx(expected, abs=1e-3)


def test_alpha_channels_are_ignored(comfy):
    ref = _image()
    with_alpha = torch.cat([ref, torch.rand(1, 40, 48, 1)], dim=-1)
    (value, _, _), _ = _run(comfy, ref, with_alpha)
    assert math.isinf(value)


def test_size_mismatch_explains_the_options(comfy):
    with pytest.raises(
        InvalidImageError,
        match=r"reference is 48×40 but image is 44×36.*'crop to common'.*'resize image to reference'",
    ):
        _run(comfy, _image(), _image(36, 44))


def test_crop_to_common_compares_the_shared_region(comfy):
    ref = _image(45, 45, seed=3)
    cropped = ref[:, :44, :44].clone()  # what rounding in degrade → upscale leaves
    (value, _, _), _ = _run(comfy, ref, cropped, size_mismatch="crop to common")
    assert math.isinf(value)
    with pytest.raises(InvalidImageError, match="too different to crop"):
        _run(comfy, ref, _image(20, 20), size_mismatch="crop to common")


def test_resize_image_to_reference(comfy):
    flat = torch.full((1, 40, 48, 3), 0.5)
    (value, similarity, _), _ = _run(
        comfy, flat, torch.full((1, 80, 96, 3), 0.5), size_mismatch="resize image to reference"
    )
    assert math.isinf(value) and similarity == pytest.approx(1.0)


def test_unpairable_batches_and_non_images_are_refused(comfy):
    with pytest.raises(InvalidImageError, match="batches of 2 and 3 images cannot be paired"):
        _run(comfy, _image(batch=2), _image(batch=3))
    with pytest.raises(InvalidImageError, match="reference: expected a ComfyUI IMAGE"):
        _run(comfy, np.zeros((4, 4, 3)), _image())
