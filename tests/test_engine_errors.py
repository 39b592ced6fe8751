"""Bad input gets a typed error that says what was expected, what came and what to do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from realesrgan_kit.core.engine import upscale
from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError
from realesrgan_kit.core.load import build_descriptor
from support.tiny_models import tiny_discriminator, tiny_rrdb, tiny_srvgg


@pytest.fixture(scope="module")
def tiny():
    return build_descriptor(tiny_srvgg().state_dict())


GOOD = np.zeros((8, 8, 3), np.uint8)


@pytest.mark.parametrize(
    "image,message",
    [
        (np.zeros((0, 5, 3), np.uint8), r"empty \(0×5\)"),
        (
            np.zeros((5, 5, 2), np.uint8),
            "has 2 channels .* expected 1 \\(gray\\), 3 \\(RGB\\) or 4 \\(RGBA\\)",
        ),
        (np.zeros((5, 5, 5), np.uint8), "has 5 channels"),
        (np.zeros((2, 5, 5, 3), np.uint8), r"expected an H×W or H×W×C numpy image, got shape \(2, 5, 5, 3\)"),
        (np.zeros((5, 5, 3), np.int32), "unsupported image dtype int32; expected uint8, uint16 or float"),
        (np.zeros((5, 5, 3), bool), "unsupported image dtype bool"),
        (np.full((5, 5, 3), np.nan, np.float32), "75 NaN or infinite pixel values"),
        (torch.zeros(1, 5, 5, 3, dtype=torch.uint8), "torch images must be float tensors"),
        (torch.zeros(5, 5, 3), r"torch images must be \[B, H, W, C\]"),
        (torch.zeros(0, 5, 5, 3), "batch is empty"),
        (torch.zeros(1, 5, 5, 2), "has 2 channels"),
        ("image.png", "unsupported image type str; expected a numpy array, a PIL image or a torch tensor"),
    ],
)
def test_bad_images(tiny, image, message):
    with pytest.raises(InvalidImageError, match=message):
        upscale(tiny, image)


def test_nan_inside_a_torch_batch_names_the_image(tiny):
    batch = torch.zeros(3, 4, 4, 3)
    batch[2, 1, 1, 0] = float("nan")
    with pytest.raises(InvalidImageError, match="image 2 of the batch has 1 NaN"):
        upscale(tiny, batch)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"tile": 1, "model": "x2"}, "tile 1 is smaller than this model's size multiple 2"),
        ({"tile": -5}, "tile must be 'auto' .*'whole' .* or a tile size in input pixels; got -5"),
        ({"tile": "large"}, "tile must be 'auto'"),
        ({"tile_pad": -1}, "tile_pad must be a whole number ≥ 0"),
        ({"precision": "int4"}, "precision must be one of auto, fp32, bf16, fp16, int8; got 'int4'"),
        ({"outscale": 0}, "outscale must be a number > 0"),
        ({"outscale": float("nan")}, "outscale must be a number > 0"),
        ({"width": 0}, "width must be a positive whole number"),
        ({"outscale": 2, "width": 10}, "either outscale or a target width/height, not both"),
        ({"threads": 0}, "threads must be a whole number ≥ 1"),
        ({"memory_budget": -1}, "memory_budget must be a positive number of bytes"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_bad_options(tiny, options, message):
    options = dict(options)
    model = (
        build_descriptor(tiny_rrdb(scale=2, num_block=1).state_dict()) if options.pop("model", None) else tiny
    )
    with pytest.raises(InvalidParameterError, match=message):
        upscale(model, GOOD, **options)


def test_a_bare_module_or_a_discriminator_is_not_an_upscaler():
    with pytest.raises(InvalidParameterError, match="not a bare nn.Module"):
        upscale(tiny_srvgg(), GOOD)  # pyright: ignore[reportArgumentType]  (the wrong type is the test)
    with pytest.raises(InvalidParameterError, match="discriminator, not an image-to-image network"):
        upscale(build_descriptor(tiny_discriminator().state_dict()), GOOD)


def test_images_smaller_than_the_pad_work(tiny):
    for shape in [(1, 1, 3), (1, 7), (3, 2, 4)]:
        image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        out = upscale(tiny, image, tile_pad=32, border=10)
        assert out.shape == (shape[0] * 4, shape[1] * 4) + shape[2:]
    x2 = build_descriptor(tiny_rrdb(scale=2, num_block=1).state_dict())
    assert upscale(x2, np.zeros((1, 3, 3), np.uint8)).shape == (2, 6, 3)  # reflect-padded to the multiple
