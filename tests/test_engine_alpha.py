"""Alpha: premultiplied through the network (no halos), resized, or dropped."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realesrgan_kit.core.engine import upscale
from realesrgan_kit.core.errors import InvalidParameterError
from realesrgan_kit.core.load import build_descriptor
from support.engine_fakes import NearestUpscale, spandrel_like
from support.tiny_models import tiny_srvgg


@pytest.fixture(scope="module")
def tiny():
    return build_descriptor(tiny_srvgg().state_dict())


@pytest.fixture(scope="module")
def children(data_dir):
    rgba = cv2.imread(str(data_dir / "children-alpha.png"), cv2.IMREAD_UNCHANGED)
    assert rgba is not None
    return cv2.cvtColor(rgba, cv2.COLOR_BGRA2RGBA)[96:160, 32:96]  # an edge between figure and transparency


@pytest.mark.parametrize("mode", ["model", "resize"])
def test_colour_under_transparent_pixels_cannot_leak(tiny, children, mode):
    transparent = children[:, :, 3] == 0
    assert 0.1 < transparent.mean() < 0.9, "the crop must hold both opaque and transparent pixels"
    white, black = children.copy(), children.copy()
    white[transparent, :3] = 255
    black[transparent, :3] = 0
    out_white = upscale(tiny, white, alpha=mode, precision="fp32")
    out_black = upscale(tiny, black, alpha=mode, precision="fp32")
    assert out_white.shape == (256, 256, 4)
    # premultiplied, both inputs are the same image: no halo from the hidden colour at all
    np.testing.assert_array_equal(out_white, out_black)


def test_without_premultiplication_the_hidden_colour_would_leak(tiny, children):
    """The control: the same network on straight (non-premultiplied) colour shows the halo."""
    transparent = children[:, :, 3] == 0
    white, black = children[:, :, :3].copy(), children[:, :, :3].copy()
    white[transparent] = 255
    black[transparent] = 0
    visible = cv2.resize((~transparent).astype(np.uint8), (256, 256), interpolation=cv2.INTER_NEAREST).astype(
        bool
    )
    diff = np.abs(upscale(tiny, white, precision="fp32").astype(int) - upscale(tiny, black, precision="fp32"))
    assert diff[visible].max() > 10


def test_alpha_resize_is_smooth_and_drop_removes_it(children):
    model = spandrel_like(NearestUpscale(2), 2)
    resized = upscale(model, children, alpha="resize", precision="fp32")
    assert resized.shape == (128, 128, 4)
    alpha = resized[:, :, 3].astype(int)
    # a bicubic alpha has intermediate values along the edge, a nearest one would not
    assert len(np.unique(alpha)) > len(np.unique(children[:, :, 3])) + 5
    dropped = upscale(model, children, alpha="drop", precision="fp32")
    assert dropped.shape == (128, 128, 3)
    # dropped: colour is not premultiplied, it is the plain upscaled colour
    np.testing.assert_array_equal(dropped, children[:, :, :3].repeat(2, 0).repeat(2, 1))


def test_opaque_pixels_keep_their_colour_through_premultiplication(children):
    model = spandrel_like(NearestUpscale(2), 2)
    out = upscale(model, children, alpha="model", precision="fp32")
    expected = children.repeat(2, 0).repeat(2, 1)
    opaque = expected[:, :, 3] == 255
    np.testing.assert_array_equal(out[opaque], expected[opaque])
    np.testing.assert_array_equal(out[:, :, 3], expected[:, :, 3])
    # fully transparent pixels come back black (their colour was multiplied by zero)
    assert not out[expected[:, :, 3] == 0, :3].any()


def test_unknown_alpha_mode_is_refused(tiny, children):
    with pytest.raises(InvalidParameterError, match="alpha must be one of model, resize, drop"):
        upscale(tiny, children, alpha="keep")
