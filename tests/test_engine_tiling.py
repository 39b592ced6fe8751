"""Tile planning (pure) and tiled-vs-whole-image equality."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from realesrgan_kit.core.engine import run_upscale
from realesrgan_kit.core.engine.tiling import axis_weights, plan_axis, plan_tiles
from realesrgan_kit.core.load import build_descriptor
from support.tiny_models import tiny_rrdb, tiny_srvgg


@pytest.mark.parametrize(
    "length,tile,pad,multiple",
    [
        (100, 32, 8, 1),
        (179, 64, 10, 1),
        (500, 96, 32, 1),
        (352, 100, 16, 2),
        (96, 20, 5, 4),
        (1000, 512, 32, 1),
        (50, 7, 3, 1),
    ],
)
def test_axis_plan_covers_owns_once_and_keeps_context(length, tile, pad, multiple):
    spans = plan_axis(length, tile, pad, multiple)
    sizes = {s.size for s in spans}
    assert len(sizes) == 1, "all windows have the same size (no slivers)"
    window = sizes.pop()
    assert window <= max(multiple, tile // multiple * multiple) + 2 * pad + multiple
    assert spans[0].start == 0 and spans[-1].stop == length
    assert spans[0].own_start == 0 and spans[-1].own_stop == length
    for left, right in itertools.pairwise(spans):
        assert left.own_stop == right.own_start, "ownership partitions the axis"
        assert right.start % multiple == 0
    for s in spans:
        # every owned pixel has ≥ pad of context inside the window, except at the image edges
        assert s.own_start - s.start >= (pad if s.own_start > 0 else 0)
        assert s.stop - s.own_stop >= (pad if s.own_stop < length else 0)
        assert s.own_stop > s.own_start


def test_axis_plan_uses_fewest_windows_and_shrinks_them():
    # RealESRGANer-equivalent compute: 192 px in 96-px cores with pad 24 → two 120-px windows
    spans = plan_axis(192, 96, 24)
    assert [(s.start, s.stop, s.own_start, s.own_stop) for s in spans] == [
        (0, 120, 0, 96),
        (72, 192, 96, 192),
    ]
    assert len(plan_axis(100, 200, 8)) == 1  # a tile larger than the image: one window
    assert len(plan_axis(100, 90, 8)) == 1  # 90 + 2·8 ≥ 100: one window holds the core and its context
    assert [s.size for s in plan_axis(100, 60, 8)] == [58, 58]  # two equal windows, 16 px of overlap


@pytest.mark.parametrize("blend", [0, 3, 8])
def test_blend_weights_are_a_partition_of_unity(blend):
    spans = plan_axis(300, 64, 8)
    total = torch.zeros(300 * 2)
    for index in range(len(spans)):
        start, stop, weights = axis_weights(spans, index, blend, 2)
        total[start:stop] += weights if weights is not None else 1.0
    torch.testing.assert_close(total, torch.ones_like(total))


def test_plan_never_blends_wider_than_the_pad():
    assert plan_tiles(300, 300, 64, 8, blend=20).blend == 8


def _float_image(rng, h, w, c=3):
    return rng.random((h, w, c), dtype=np.float32)


def test_srvgg_tiled_equals_whole_image_when_the_pad_covers_its_receptive_field():
    model = build_descriptor(tiny_srvgg(num_conv=3).state_dict())
    image = _float_image(np.random.default_rng(0), 70, 90)
    whole = run_upscale(model, image, tile="whole", precision="fp32")
    tiled = run_upscale(model, image, tile=24, tile_pad=model.receptive_field, precision="fp32")
    assert whole.report.tiles == 1 and tiled.report.tiles > 4
    # equal up to float re-association inside the convolution kernels
    np.testing.assert_allclose(tiled.image, whole.image, rtol=0, atol=1e-6)
    short = run_upscale(model, image, tile=24, tile_pad=model.receptive_field - 2, precision="fp32")
    assert np.abs(short.image - whole.image).max() > 1e-3, "a pad short of the receptive field shows"


def test_unshuffle_model_tiles_stay_aligned_to_its_multiple():
    # ×2 RRDBNet = pixel-unshuffle 2: windows at odd offsets would change every output pixel
    model = build_descriptor(tiny_rrdb(scale=2, num_block=1).state_dict())
    assert model.size_requirements.multiple_of == 2
    image = _float_image(
        np.random.default_rng(1), 45, 61
    )  # odd sizes: reflect-padded to 46×62 and cropped back
    whole = run_upscale(model, image, tile="whole", precision="fp32")
    assert whole.image.shape == (90, 122, 3)
    tiled = run_upscale(model, image, tile=16, tile_pad=model.receptive_field + 2, precision="fp32")
    np.testing.assert_allclose(tiled.image, whole.image, rtol=0, atol=1e-5)


def test_blended_seams_fall_back_to_the_whole_image_result_inside_the_receptive_field():
    model = build_descriptor(tiny_srvgg(num_conv=3).state_dict())
    image = _float_image(np.random.default_rng(2), 64, 64)
    whole = run_upscale(model, image, tile="whole", precision="fp32").image
    blended = run_upscale(model, image, tile=16, tile_pad=12, blend=4, precision="fp32")
    assert blended.report.blend == 4
    np.testing.assert_allclose(blended.image, whole, rtol=0, atol=1e-6)
