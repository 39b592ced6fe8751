"""widgets.images and widgets.compare: inputs of every kind, small previews, exact zoom crops."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from PIL import Image

from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError
from realesrgan_kit.core.imagefile.arrays import decode_image
from realesrgan_kit.widgets.compare import WHOLE, CompareView
from realesrgan_kit.widgets.previews import as_array, crop_fraction, describe, preview_png, to_display_uint8


def _png_size(data: bytes) -> tuple[int, int]:
    """(height, width) of PNG bytes."""
    return decode_image(data).shape[:2]


def test_as_array_accepts_path_bytes_pil_and_numpy(data_dir):
    from_path = as_array(data_dir / "0014.jpg")
    from_bytes = as_array((data_dir / "0014.jpg").read_bytes())
    np.testing.assert_array_equal(from_path, from_bytes)
    assert describe(from_path) == "179×179 RGB uint8"
    pil = Image.open(data_dir / "children-alpha.png")
    np.testing.assert_array_equal(as_array(pil), np.asarray(pil))
    assert as_array(pil.convert("P")).shape == (350, 566, 3)  # palette → RGB
    assert as_array(Image.fromarray(np.full((3, 4), 40000, np.uint16))).dtype == np.uint16
    assert as_array(np.zeros((5, 6, 1), np.uint8)).shape == (5, 6)
    assert as_array(np.zeros((5, 6, 3))).dtype == np.float32


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (12, "cannot use a int as an image"),
        (np.zeros((4, 4, 2), np.uint8), r"got shape \(4, 4, 2\)"),
        (np.zeros((0, 4, 3), np.uint8), "got shape"),
        (np.zeros((4, 4), np.int32), "got int32"),
        (b"\x89PNG broken", "could not be decoded"),
    ],
)
def test_as_array_rejects_with_a_reason(value, message):
    with pytest.raises(InvalidImageError, match=message):
        as_array(value)


def test_previews_are_8_bit_and_small():
    big = np.zeros((300, 3000, 3), np.uint16)
    big[:, :, 0] = 65535
    data = preview_png(big, max_side=500)
    assert _png_size(data) == (50, 500)
    preview = decode_image(data)
    assert preview.dtype == np.uint8 and preview[0, 0, 0] == 255
    assert to_display_uint8(np.array([0.0, 0.5, 2.0], np.float32)).tolist() == [0, 128, 255]
    assert to_display_uint8(np.array([257, 65535], np.uint16)).tolist() == [1, 255]


def test_crop_fraction_snaps_outwards_and_never_empties():
    image = np.arange(100).reshape(10, 10)
    crop, box = crop_fraction(image, (0.11, 0.2, 0.29, 0.5))
    assert box == (1, 2, 3, 5) and crop.shape == (3, 2)
    assert crop_fraction(image, (1.0, 1.0, 1.0, 1.0))[1] == (9, 9, 10, 10)


@pytest.fixture()
def pair():
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    after = np.repeat(np.repeat(before, 4, axis=0), 4, axis=1)  # a perfect nearest ×4
    return before, after


def test_set_images_sends_previews_and_describes_them(pair):
    before, after = pair
    view = CompareView()
    view.set_images(before)
    assert _png_size(view.before) == (30, 40) and view.after == b""
    assert view.aspect == pytest.approx(40 / 30)
    view.set_after(after)
    assert _png_size(view.after) == (120, 160)
    assert view.caption == "whole image · before 40×30 · after 160×120"


def test_zoom_crops_the_same_area_of_both_images(pair):
    before, after = pair
    view = CompareView()
    view.set_images(before, after)
    view.zoom_to(0.1, 0.2, 0.5, 0.6)
    shown_before, shown_after = view.shown_before, view.shown_after
    assert shown_before is not None and shown_before.shape == (12, 16, 3)
    np.testing.assert_array_equal(shown_after, np.repeat(np.repeat(shown_before, 4, 0), 4, 1))
    assert _png_size(view.after) == (48, 64) and view.aspect == pytest.approx(64 / 48)
    assert view.caption.startswith("region x 16–80, y 24–72")
    view.reset_zoom()
    assert view.region == WHOLE and _png_size(view.after) == (120, 160)


def test_region_from_the_browser_is_clamped_and_a_tiny_one_grows(pair):
    before, after = pair
    view = CompareView()
    view.set_images(before, after)
    view.region = (0.9, 1.2, -0.1, 0.5)  # reversed and out of range, as a sloppy front end might send
    assert view.region == (0.0, 0.5, 0.9, 1.0)
    view.region = (0.5, 0.5, 0.5, 0.5)
    assert view.shown_before.shape[:2] == (2, 2)


def test_bad_calls_say_what_is_expected(pair):
    view = CompareView()
    with pytest.raises(InvalidParameterError, match="set a before image first"):
        view.set_after(pair[1])
    view.set_images(pair[0])
    with pytest.raises(InvalidParameterError, match=r"0 ≤ x0 < x1 ≤ 1"):
        view.zoom_to(0.5, 0.0, 0.2, 1.0)
    with pytest.raises(traitlets.TraitError):
        view.divider = 1.5


def test_new_images_reset_the_zoom_unless_kept(pair):
    before, after = pair
    view = CompareView()
    view.set_images(before, after)
    view.zoom_to(0, 0, 0.5, 0.5)
    view.set_images(before, after, keep_region=True)
    assert view.region == (0, 0, 0.5, 0.5)
    view.set_images(before, after)
    assert view.region == WHOLE
    view.clear()
    assert view.before == view.after == b"" and view.caption == ""


def test_synced_state_is_what_the_front_end_reads():
    # The browser test exercises the front end for real; this pins the wire contract it uses.
    state = CompareView().get_state()
    assert {
        "before",
        "after",
        "divider",
        "region",
        "aspect",
        "caption",
        "before_label",
        "after_label",
    } <= set(state)
    assert "image-rendering: pixelated" in state["_css"]
