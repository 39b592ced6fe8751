"""core.imagefile: orientation, ICC, EXIF, XMP, DPI and text survive; bombs are refused from the header."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from realesrgan_kit.core.errors import ImageTooLargeError, InvalidImageError
from realesrgan_kit.core.imagefile import (
    ImageMetadata,
    decode_image_file,
    encode_image_file,
    exif_orientation,
    probe_image,
    read_image_file,
    write_image_file,
)
from support.photo_files import (
    COMFY_PROMPT,
    COMFY_WORKFLOW,
    XMP,
    camera_exif,
    comfy_png,
    icc_profile,
    pattern,
    png_bomb,
    save,
)


def _exif_of(data: bytes) -> Image.Exif:
    return Image.open(io.BytesIO(data)).getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright_like_pillow(orientation):
    stored = pattern(6, 9)
    data = save(stored, "PNG", exif=camera_exif(orientation, 9, 6))
    loaded = decode_image_file(data)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(loaded.pixels, upright)
    assert loaded.metadata.orientation == orientation
    assert exif_orientation(loaded.metadata.exif) == 1


def test_rotated_phone_jpeg_is_upright_and_its_exif_says_so(tmp_path):
    stored = pattern(40, 64)  # stored landscape, orientation 6: a portrait photo
    source = tmp_path / "phone.jpg"
    source.write_bytes(
        save(stored, "JPEG", quality=95, exif=camera_exif(6, 64, 40), icc_profile=icc_profile())
    )
    loaded = read_image_file(source)
    assert loaded.pixels.shape == (64, 40, 3) and loaded.format == "jpeg"
    upright = np.asarray(ImageOps.exif_transpose(Image.open(source)))  # Pillow's reading, another decoder
    assert np.abs(loaded.pixels.astype(int) - upright.astype(int)).mean() < 2
    bigger = np.repeat(np.repeat(loaded.pixels, 2, axis=0), 2, axis=1)
    out = write_image_file(tmp_path / "big.jpg", bigger, loaded.metadata)
    exif = _exif_of(out.read_bytes())
    assert exif[0x0112] == 1 and exif[0x010F] == "TestCam"
    assert exif.get_ifd(0x8769)[0xA002] == 80 and exif.get_ifd(0x8769)[0xA003] == 128
    assert Image.open(out).info["icc_profile"] == icc_profile()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".avif"])
def test_icc_profile_round_trips(tmp_path, suffix):
    image = pattern(12, 10)
    metadata = ImageMetadata(icc_profile=icc_profile())
    path = write_image_file(tmp_path / f"x{suffix}", image, metadata)
    assert Image.open(path).info.get("icc_profile") == icc_profile(), "another reader sees the profile"
    assert read_image_file(path).metadata.icc_profile == icc_profile()


def test_icc_tagged_png_and_jpeg_from_pillow_are_read(tmp_path):
    for fmt in ("PNG", "JPEG"):
        data = save(pattern(8, 8), fmt, icc_profile=icc_profile())
        assert decode_image_file(data).metadata.icc_profile == icc_profile()


def test_large_icc_profile_is_split_over_jpeg_segments():
    big = bytes(range(256)) * 600  # 153600 bytes: three APP2 segments
    data = encode_image_file(pattern(8, 8), ".jpg", ImageMetadata(icc_profile=big))
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == big
    assert decode_image_file(data).metadata.icc_profile == big


def test_comfyui_prompt_and_workflow_survive_a_png_round_trip(tmp_path):
    loaded = decode_image_file(comfy_png(pattern(16, 16, 4)))
    assert loaded.metadata.text == {"prompt": COMFY_PROMPT, "workflow": COMFY_WORKFLOW}
    out = write_image_file(tmp_path / "up.png", pattern(32, 32, 4), loaded.metadata)
    written = Image.open(out)
    assert written.info["prompt"] == COMFY_PROMPT and written.info["workflow"] == COMFY_WORKFLOW


def test_xmp_dpi_and_exif_kept_in_png_and_jpeg(tmp_path):
    metadata = ImageMetadata(xmp=XMP, dpi=(300.0, 300.0), exif=camera_exif(1, 4, 4)[6:])
    for suffix in (".png", ".jpg"):
        path = write_image_file(tmp_path / f"m{suffix}", pattern(4, 4), metadata)
        back = read_image_file(path).metadata
        assert back.xmp == XMP and back.dpi is not None and round(back.dpi[0]) == 300
        assert _exif_of(path.read_bytes())[0x0110] == "Model X"
        assert round(Image.open(path).info["dpi"][0]) == 300


def test_webp_keeps_icc_exif_and_xmp_with_alpha(tmp_path):
    metadata = ImageMetadata(icc_profile=icc_profile(), exif=camera_exif(1, 6, 5)[6:], xmp=XMP)
    rgba = pattern(5, 6, 4)
    rgba[:, :, 3] |= 1  # libwebp drops the colour under alpha 0, which is not ours to test
    path = write_image_file(tmp_path / "x.webp", rgba, metadata)
    opened = Image.open(path)
    assert opened.info["icc_profile"] == icc_profile() and opened.getexif()[0x010F] == "TestCam"
    back = read_image_file(path)
    np.testing.assert_array_equal(back.pixels, rgba)  # OpenCV's default WebP is lossless
    assert back.metadata.xmp == XMP


def test_sixteen_bit_alpha_png_keeps_depth_with_metadata(tmp_path):
    deep = pattern(7, 5, 4, np.uint16)
    path = write_image_file(
        tmp_path / "d.png", deep, ImageMetadata(icc_profile=icc_profile(), text={"k": "v"})
    )
    back = read_image_file(path)
    np.testing.assert_array_equal(back.pixels, deep)
    assert back.metadata.text == {"k": "v"}


def test_float_tiff_round_trips_exactly_with_hdr_values(tmp_path):
    hdr = pattern(9, 7, 3, np.float32) * 4.0  # values above 1: the float path keeps them in the file
    path = write_image_file(
        tmp_path / "f.tif", hdr, ImageMetadata(icc_profile=icc_profile(), dpi=(72.0, 72.0))
    )
    back = read_image_file(path)
    assert back.pixels.dtype == np.float32
    np.testing.assert_array_equal(back.pixels, hdr)
    assert back.metadata.icc_profile == icc_profile() and back.metadata.dpi == (72.0, 72.0)


def test_openexr_round_trips_float_rgba(tmp_path):
    pytest.importorskip("OpenEXR")
    hdr = pattern(6, 5, 4, np.float32) * 3.0
    path = write_image_file(tmp_path / "h.exr", hdr)
    assert probe_image(path.read_bytes()).format == "exr"
    np.testing.assert_array_equal(read_image_file(path).pixels, hdr)
    np.testing.assert_array_equal(decode_image_file(path.read_bytes()).pixels, hdr)  # bytes, e.g. an upload


def test_heic_input_through_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pattern(16, 24))).save(buffer, quality=95)
    loaded = decode_image_file(buffer.getvalue())
    assert loaded.format == "heif" and loaded.pixels.shape == (16, 24, 3)


def test_header_bomb_is_refused_before_decoding():
    bomb = png_bomb()
    assert len(bomb) < 200
    with pytest.raises(ImageTooLargeError, match=r"60000×60000 = 3,600,000,000 pixels.*--max-pixels") as info:
        decode_image_file(bomb, name="bomb.png")
    assert (info.value.width, info.value.height) == (60000, 60000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP"])
def test_limit_applies_to_every_format_and_can_be_raised(fmt):
    data = save(pattern(30, 40), fmt)
    assert probe_image(data).pixels == 1200
    with pytest.raises(ImageTooLargeError, match="1,200 pixels"):
        decode_image_file(data, max_pixels=1199)
    assert decode_image_file(data, max_pixels=1200).pixels.shape == (30, 40, 3)


def test_damaged_files_give_typed_errors():
    good = save(pattern(8, 8), "PNG")
    for data in (
        good[:20],
        good[:40],
        b"\xff\xd8\xff\xe0\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP8X",
        b"II*\x00\xff\xff",
    ):
        with pytest.raises(InvalidImageError):
            decode_image_file(data)


def test_stripped_write_has_no_metadata(tmp_path):
    path = write_image_file(tmp_path / "s.png", pattern(4, 4))
    assert read_image_file(path).metadata.is_empty()
    assert b"iCCP" not in path.read_bytes() and b"tEXt" not in path.read_bytes()


@pytest.mark.parametrize("orientation", [2, 6, 7])
def test_rotated_tiff_is_upright_too(orientation):
    """OpenCV's TIFF decoder applies the orientation tag itself; it must not be applied twice."""
    data = save(pattern(6, 9), "TIFF", exif=camera_exif(orientation, 9, 6))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(decode_image_file(data).pixels, upright)


def test_rotated_avif_is_upright():
    smooth = np.repeat(np.repeat(pattern(4, 6), 8, axis=0), 8, axis=1)  # 32×48, compresses well
    data = save(smooth, "AVIF", quality=95, exif=camera_exif(6, 48, 32))
    loaded = decode_image_file(data)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert loaded.pixels.shape == upright.shape == (48, 32, 3)
    assert np.abs(loaded.pixels.astype(int) - upright.astype(int)).mean() < 2


def test_jpeg_with_extraneous_bytes_between_segments_still_reads(caplog):
    """libjpeg skips junk before a marker (with a warning); refusing such files would be a regression."""
    data = save(pattern(8, 8), "JPEG", icc_profile=icc_profile())
    end_of_app0 = 4 + int.from_bytes(data[4:6], "big")
    junk = data[:end_of_app0] + b"\x00\x00\x00" + data[end_of_app0:]
    loaded = decode_image_file(junk)
    assert loaded.pixels.shape == (8, 8, 3) and loaded.metadata.icc_profile == icc_profile()


def test_damaged_icc_chunk_is_dropped_not_fatal():
    data = bytearray(save(pattern(8, 8), "PNG", icc_profile=icc_profile()))
    at = data.index(b"iCCP") + 4 + len(b"ICC Profile") + 2  # inside the zlib stream
    data[at : at + 8] = b"\xff" * 8
    loaded = decode_image_file(bytes(data))
    assert loaded.pixels.shape == (8, 8, 3) and loaded.metadata.icc_profile is None


def test_png_chunk_running_past_the_end_is_a_typed_error():
    data = bytearray(save(pattern(8, 8), "PNG", pnginfo=_text_info()))
    at = data.index(b"tEXt") - 4
    data[at : at + 4] = (10**6).to_bytes(4, "big")
    with pytest.raises(InvalidImageError):
        decode_image_file(bytes(data))


def _text_info():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("k", "v")
    return info
