"""Every input kind comes back as itself: kind, dtype, channels, shape; RGB/BGR; batches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from realesrgan_kit.core.engine import upscale
from realesrgan_kit.core.load import build_descriptor
from support.engine_fakes import NearestUpscale, spandrel_like
from support.tiny_models import tiny_srvgg

NEAREST2 = spandrel_like(NearestUpscale(2), 2)


def nearest(image: np.ndarray, factor: int = 2) -> np.ndarray:
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


@pytest.fixture(scope="module")
def tiny():
    return build_descriptor(tiny_srvgg().state_dict())


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("shape", [(13, 17), (13, 17, 1), (13, 17, 3), (13, 17, 4)])
def test_numpy_round_trip_keeps_dtype_shape_and_values(dtype, shape):
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        image = rng.random(shape, dtype=np.float32)
    else:
        image = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    if len(shape) == 3 and shape[2] == 4:
        image[..., 3] = np.iinfo(dtype).max if dtype != np.float32 else 1.0  # opaque: colour survives exactly
    out = upscale(NEAREST2, image, precision="fp32")
    assert out.dtype == dtype
    assert out.shape == (26, 34) + shape[2:]
    np.testing.assert_allclose(out.astype(np.float64), nearest(image).astype(np.float64), atol=1e-6)


def test_uint16_with_small_values_stays_uint16():
    # RealESRGANer decides 16-bit by max value > 256; we decide by dtype
    image = np.full((8, 8, 3), 200, dtype=np.uint16)
    out = upscale(NEAREST2, image, precision="fp32")
    assert out.dtype == np.uint16 and int(out.max()) == 200


def test_bgr_switch_reads_and_writes_opencv_order(tiny):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)
    bgr = rgb[:, :, ::-1].copy()
    from_rgb = upscale(tiny, rgb, precision="fp32")
    from_bgr = upscale(tiny, bgr, bgr=True, precision="fp32")
    np.testing.assert_array_equal(from_bgr[:, :, ::-1], from_rgb)
    wrong = upscale(tiny, bgr, precision="fp32")
    assert not np.array_equal(wrong[:, :, ::-1], from_rgb), "the switch matters for a colour model"
    bgra = np.dstack([bgr, np.full((20, 24), 255, np.uint8)])
    out = upscale(tiny, bgra, bgr=True, precision="fp32", alpha="resize")  # opaque alpha stays exactly 1
    np.testing.assert_array_equal(out[:, :, 2::-1], from_rgb)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16", "F", "P", "1"])
def test_pil_round_trip(mode):
    rng = np.random.default_rng(4)
    base = Image.fromarray(rng.integers(0, 256, size=(9, 11, 4), dtype=np.uint8), "RGBA")
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, size=(9, 11), dtype=np.uint16))
    elif mode == "F":
        image = Image.fromarray(rng.random((9, 11), dtype=np.float32), "F")
    else:
        image = base.convert(mode)
    out = upscale(NEAREST2, image, precision="fp32", alpha="model")
    assert isinstance(out, Image.Image)
    expected = {"P": "RGB", "1": "L"}.get(mode, mode)
    assert out.mode == expected and out.size == (22, 18)
    if mode in ("L", "RGB", "I;16", "F"):
        np.testing.assert_allclose(
            np.asarray(out, np.float64), nearest(np.asarray(image, np.float64)), atol=1e-6
        )


def test_torch_batch_in_bhwc_out_on_cpu_float32():
    rng = np.random.default_rng(5)
    batch = torch.from_numpy(rng.random((3, 10, 12, 3), dtype=np.float32))
    seen = []
    out = upscale(
        NEAREST2, batch, precision="fp32", tile=4, tile_pad=2, progress=lambda d, t: seen.append((d, t))
    )
    assert out.shape == (3, 20, 24, 3) and out.dtype == torch.float32 and out.device.type == "cpu"
    expected = batch.repeat_interleave(2, 1).repeat_interleave(2, 2)
    torch.testing.assert_close(out, expected)
    per_image = 4  # 10×12 with 4-px cores and 2-px pads: 2×2 windows
    assert seen[0] == (0, 3 * per_image) and seen[-1] == (3 * per_image, 3 * per_image)
    assert [d for d, _ in seen] == list(range(3 * per_image + 1))


def test_torch_batch_does_not_modify_the_input(tiny):
    batch = torch.rand(2, 9, 9, 4)
    before = batch.clone()
    upscale(tiny, batch, precision="fp32")
    torch.testing.assert_close(batch, before)


def test_real_files_round_trip_with_opencv(data_dir, tiny):
    cases = {
        "00017_gray.png": ((351, 500), np.uint8),
        "children-alpha.png": ((350, 566, 4), np.uint8),
        "tree_alpha_16bit.png": ((256, 342, 4), np.uint16),
        "0014.jpg": ((179, 179, 3), np.uint8),
    }
    for name, (shape, dtype) in cases.items():
        image = cv2.imread(str(data_dir / name), cv2.IMREAD_UNCHANGED)
        assert image.shape == shape and image.dtype == dtype
        crop = image[:37, :29]  # odd sizes, fast
        out = upscale(tiny, crop, bgr=True, outscale=1.5)
        assert out.dtype == dtype, name
        assert out.shape == (round(37 * 1.5), round(29 * 1.5)) + shape[2:], name
