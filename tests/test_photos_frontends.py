"""Photos through every front end that reads files: CLI upscale and degrade, the widgets.

Rotated phone JPEGs come out upright, ICC/EXIF/XMP and ComfyUI's text chunks survive an upscale
(or are stripped on request), header bombs and ``--max-pixels`` give typed errors, float TIFF
stays float.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from realesrgan_kit.cli import main
from realesrgan_kit.core.errors import ImageTooLargeError
from realesrgan_kit.core.imagefile import ImageMetadata, read_image_file, write_image_file
from realesrgan_kit.core.load import build_descriptor, save_safetensors
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
from support.tiny_models import tiny_srvgg


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), path)
    return str(path)


def _phone_jpeg(path, height=12, width=20):
    """Stored landscape with orientation 6 (a portrait photo), ICC-tagged, with XMP."""
    pixels = pattern(height, width)
    path.write_bytes(
        save(
            pixels, "JPEG", quality=95, exif=camera_exif(6, width, height), icc_profile=icc_profile(), xmp=XMP
        )
    )
    return path


def test_upscaled_phone_photo_is_upright_and_keeps_its_metadata(tmp_path, tiny_weights):
    source = _phone_jpeg(tmp_path / "phone.jpg")
    out = tmp_path / "big.jpg"
    assert main(["upscale", str(source), "-o", str(out), "--model", tiny_weights, "--outscale", "2"]) == 0
    written = Image.open(out)
    assert written.size == (24, 40), "portrait: width 2·12, height 2·20"
    exif = written.getexif()
    assert exif[0x0112] == 1 and exif[0x010F] == "TestCam"
    assert (exif.get_ifd(0x8769)[0xA002], exif.get_ifd(0x8769)[0xA003]) == (24, 40)
    assert written.info["icc_profile"] == icc_profile()
    assert read_image_file(out).metadata.xmp == XMP


def test_strip_metadata_writes_none(tmp_path, tiny_weights):
    source = _phone_jpeg(tmp_path / "phone.jpg")
    out = tmp_path / "bare.png"
    assert main(["upscale", str(source), "-o", str(out), "--model", tiny_weights, "--strip-metadata"]) == 0
    back = read_image_file(out)
    assert back.pixels.shape == (80, 48, 3), "still upright"
    assert back.metadata.is_empty()


def test_comfyui_png_keeps_prompt_and_workflow(tmp_path, tiny_weights):
    source = tmp_path / "ComfyUI_00001_.png"
    source.write_bytes(comfy_png(pattern(8, 8, 4)))
    out = tmp_path / "up.png"
    assert main(["upscale", str(source), "-o", str(out), "--model", tiny_weights]) == 0
    written = Image.open(out)
    assert (written.info["prompt"], written.info["workflow"]) == (COMFY_PROMPT, COMFY_WORKFLOW)
    assert written.mode == "RGBA" and written.size == (32, 32)


def test_header_bomb_and_max_pixels_are_typed_errors(tmp_path, tiny_weights, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    assert main(["upscale", str(bomb), "-o", str(tmp_path / "o.png"), "--model", tiny_weights]) == 1
    err = capsys.readouterr().err
    assert "60000×60000" in err and "--max-pixels" in err and "Traceback" not in err
    small = tmp_path / "small.png"
    small.write_bytes(save(pattern(10, 10), "PNG"))
    args = ["upscale", str(small), "-o", str(tmp_path / "s.png"), "--model", tiny_weights]
    assert main([*args, "--max-pixels", "99"]) == 1
    assert "10×10 = 100 pixels" in capsys.readouterr().err
    assert main([*args, "--max-pixels", "100"]) == 0


def test_float_tiff_goes_through_the_float_path(tmp_path, tiny_weights):
    source = write_image_file(
        tmp_path / "f.tif", pattern(6, 7, 3, np.float32), ImageMetadata(icc_profile=icc_profile())
    )
    out = tmp_path / "f_x4.tif"
    assert main(["upscale", str(source), "-o", str(out), "--model", tiny_weights]) == 0
    back = read_image_file(out)
    assert back.pixels.dtype == np.float32 and back.pixels.shape == (24, 28, 3)
    assert back.metadata.icc_profile == icc_profile()


def test_folder_of_heic_and_webp_writes_png_for_heic(tmp_path, tiny_weights):
    pillow_heif = pytest.importorskip("pillow_heif")
    folder = tmp_path / "in"
    folder.mkdir()
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pattern(8, 10))).save(buffer, quality=90)
    (folder / "phone.heic").write_bytes(buffer.getvalue())
    write_image_file(folder / "w.webp", pattern(6, 6, 4), ImageMetadata(icc_profile=icc_profile()))
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["phone.png", "w.webp"]
    assert Image.open(out / "w.webp").info["icc_profile"] == icc_profile()


def test_degrade_reads_photos_upright(tmp_path):
    source = _phone_jpeg(tmp_path / "phone.jpg", height=16, width=32)
    out = tmp_path / "lq.png"
    assert main(["degrade", str(source), "-o", str(out), "--seed", "1", "--scale", "2"]) == 0
    assert Image.open(out).size == (8, 16)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    assert main(["degrade", str(bomb), "-o", str(tmp_path / "b.png")]) == 1


def test_widgets_read_paths_and_uploads_upright(tmp_path):
    from realesrgan_kit.widgets.previews import as_array

    source = _phone_jpeg(tmp_path / "phone.jpg")
    assert as_array(source).shape == (20, 12, 3)
    assert as_array(source.read_bytes()).shape == (20, 12, 3)
    with pytest.raises(ImageTooLargeError):
        as_array(png_bomb())
