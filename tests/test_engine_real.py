"""The engine with the real RealESRGAN_x4plus weights, on small crops of real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ncnn_engine

from realesrgan_kit.core.archs.rrdbnet.spec import RRDB_TILE_PAD
from realesrgan_kit.core.engine import run_upscale, upscale
from realesrgan_kit.core.engine.precision import cpu_has_fast_bf16
from realesrgan_kit.core.metrics import psnr

pytestmark = pytest.mark.real_weights


def _photo(data_dir, name="gt/baboon.png"):
    return cv2.imread(str(data_dir / name), cv2.IMREAD_UNCHANGED)


@pytest.mark.slow
def test_seams_at_96_px_tiles_stay_above_55_db(x4plus, data_dir):
    """96-px tiles vs whole-image inference (fp32, so only the seams differ)."""
    image = _photo(data_dir)
    strip = np.ascontiguousarray(image[220:260, 96:384])  # 40×288: seams across the fur and the nose
    whole = upscale(x4plus, strip, bgr=True, tile="whole", precision="fp32")
    tiled = run_upscale(x4plus, strip, bgr=True, tile=96, precision="fp32")
    assert tiled.report.tiles >= 2 and tiled.report.tile_pad == RRDB_TILE_PAD
    assert psnr(tiled.image, whole) >= 55.0
    # RealESRGANer's default context (pad 10) is far below on the same strip
    assert psnr(upscale(x4plus, strip, bgr=True, tile=96, tile_pad=10, precision="fp32"), whole) < 50.0


def test_default_precision_is_close_to_fp32(x4plus, data_dir):
    crop = np.ascontiguousarray(_photo(data_dir)[200:248, 200:248])
    reference = upscale(x4plus, crop, bgr=True, precision="fp32")
    result = run_upscale(x4plus, crop, bgr=True)
    assert result.report.precision == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert psnr(result.image, reference) >= 45.0


def test_children_alpha_has_no_halo(x4plus, data_dir):
    rgba = _photo(data_dir, "children-alpha.png")[110:150, 64:104]  # 56 % transparent, 36 % opaque
    transparent = rgba[:, :, 3] == 0
    bright, dark = rgba.copy(), rgba.copy()
    bright[transparent, :3] = 255
    dark[transparent, :3] = 0
    out_bright = upscale(x4plus, bright, bgr=True)
    out_dark = upscale(x4plus, dark, bgr=True)
    assert out_bright.shape == (160, 160, 4) and out_bright.dtype == np.uint8
    np.testing.assert_array_equal(out_bright, out_dark)
    # the alpha went through the network: still mostly 0 where the input was transparent
    big_transparent = (
        cv2.resize(transparent.astype(np.uint8), (160, 160), interpolation=cv2.INTER_NEAREST) > 0
    )
    # (the GAN's alpha is within a few levels of 0 and 255 there, not exact)
    assert (
        np.median(out_bright[big_transparent, 3]) <= 3 and np.median(out_bright[~big_transparent, 3]) >= 252
    )


def test_sixteen_bit_rgba_and_gray_survive(x4plus, data_dir):
    tree = _photo(data_dir, "tree_alpha_16bit.png")[:21, :19]
    out = upscale(x4plus, tree, bgr=True, alpha="resize")
    assert out.dtype == np.uint16 and out.shape == (84, 76, 4)
    assert len(np.unique(out[:, :, :3])) > 256, "more than 8 bits of levels"
    gray = _photo(data_dir, "00017_gray.png")[:17, :23]
    out = upscale(x4plus, gray, outscale=2)
    assert out.dtype == np.uint8 and out.shape == (34, 46)


def test_border_10_reproduces_the_ncnn_engine(x4plus, data_dir):
    Realesrgan = ncnn_engine()
    crop = np.ascontiguousarray(_photo(data_dir)[200:248, 200:248])
    ours = upscale(x4plus, crop, bgr=True, border=10, precision="fp32")
    theirs = Realesrgan(gpuid=-1, model=4).process_cv2(crop)
    assert theirs.shape == ours.shape
    assert psnr(ours, theirs) >= 45.0
