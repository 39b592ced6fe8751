"""core.imagefile.arrays: RGB order, 16 bits and alpha survive a round trip; bad input is named.

Its old name ``core.imageio`` re-exports the same functions and warns."""

from __future__ import annotations

import importlib
import sys

import cv2
import numpy as np
import pytest

from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError, OutputExistsError
from realesrgan_kit.core.imagefile import arrays
from realesrgan_kit.core.imagefile.arrays import decode_image, encode_image, read_image, write_image


def test_read_keeps_16_bit_alpha_and_rgb_order(data_dir):
    image = read_image(data_dir / "tree_alpha_16bit.png")
    assert image.shape == (256, 342, 4) and image.dtype == np.uint16
    raw = cv2.imread(str(data_dir / "tree_alpha_16bit.png"), cv2.IMREAD_UNCHANGED)  # BGRA
    np.testing.assert_array_equal(image[..., 0], raw[..., 2])
    np.testing.assert_array_equal(image[..., 3], raw[..., 3])


def test_read_gray_is_two_dimensional(data_dir):
    image = read_image(data_dir / "00017_gray.png")
    assert image.shape == (351, 500) and image.dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_png_round_trip_is_exact(tmp_path, dtype, channels):
    rng = np.random.default_rng(3)
    shape = (7, 5) if channels is None else (7, 5, channels)
    image = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    path = write_image(tmp_path / "x.png", image)
    np.testing.assert_array_equal(read_image(path), image)


def test_float_becomes_16_bit_png_and_8_bit_jpeg():
    image = np.linspace(0, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    png = decode_image(encode_image(image, ".png"))
    assert png.dtype == np.uint16 and png[1, 1, 2] == 65535 and png[0, 0, 0] == 0
    assert decode_image(encode_image(image, "jpg")).dtype == np.uint8


def test_write_refuses_to_overwrite_and_leaves_no_temp(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    target = write_image(tmp_path / "out.png", image)
    with pytest.raises(OutputExistsError, match="exists"):
        write_image(target, image + 1)
    np.testing.assert_array_equal(read_image(target), image)
    write_image(target, image + 1, overwrite=True)
    assert read_image(target)[0, 0, 0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"16-bit; save as \.png or \.tiff"):
        encode_image(np.zeros((2, 2, 3), np.uint16), ".jpg")
    with pytest.raises(InvalidParameterError, match="no extension"):
        write_image(tmp_path / "noext", np.zeros((2, 2), np.uint8))
    with pytest.raises(InvalidParameterError, match="cannot write images of type '.gif'"):
        encode_image(np.zeros((2, 2), np.uint8), ".gif")
    with pytest.raises(InvalidImageError, match="could not be decoded"):
        decode_image(b"not an image", name="upload.png")
    with pytest.raises(InvalidImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(InvalidImageError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(InvalidImageError, match="NaN"):
        encode_image(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(InvalidImageError, match="shape"):
        encode_image(np.zeros((2, 2, 2), np.uint8))
    assert not any(tmp_path.iterdir())


def test_atomic_outputs_follow_the_umask(tmp_path):
    """Outputs get ordinary permissions (mkstemp would make them 0600)."""
    import os

    from realesrgan_kit.core.fileio import atomic_output

    old = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_old_module_name_warns_and_hands_out_the_same_functions():
    sys.modules.pop("realesrgan_kit.core.imageio", None)  # a cached module would not warn again
    with pytest.warns(DeprecationWarning, match=r"core\.imagefile\.arrays"):
        old = importlib.import_module("realesrgan_kit.core.imageio")
    assert old.__all__ == arrays.__all__
    for name in arrays.__all__:
        assert getattr(old, name) is getattr(arrays, name)
