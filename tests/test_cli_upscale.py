"""``realesrgan-kit upscale``: files, folders, formats, bad files, never overwriting inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core.load import build_descriptor, save_safetensors
from support.tiny_models import tiny_srvgg


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), path)
    return str(path)


def _write(path, image):
    assert cv2.imwrite(str(path), image)
    return path


def test_single_file_keeps_16_bit_alpha(tmp_path, data_dir, tiny_weights):
    source = data_dir / "tree_alpha_16bit.png"
    crop = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)[:20, :30]
    src = _write(tmp_path / "in.png", crop)
    out = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", tiny_weights, "--outscale", "2"]) == 0
    result = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result.dtype == np.uint16 and result.shape == (40, 60, 4)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], (
        "no temporary files left behind"
    )


def test_gray_stays_gray_and_size_options(tmp_path, tiny_weights):
    gray = np.random.default_rng(0).integers(0, 256, (15, 21), dtype=np.uint8)
    src = _write(tmp_path / "g.png", gray)
    out = tmp_path / "g_big.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", tiny_weights, "--width", "50"]) == 0
    result = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result.shape == (36, 50)  # 15 · 50/21 = 35.7 → rounded, not truncated


def test_folder_reports_bad_files_and_exits_non_zero(tmp_path, tiny_weights, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(1)
    _write(folder / "a.png", rng.integers(0, 256, (8, 9, 3), dtype=np.uint8))
    _write(folder / "b.jpg", rng.integers(0, 256, (10, 7, 3), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    code = main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights])
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.png" in err and "could not be decoded as an image" in err
    assert "2 upscaled, 1 failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert cv2.imread(str(out / "b.jpg")).shape == (40, 28, 3)
    # a second run does not overwrite without --force
    assert main(["upscale", str(folder / "a.png"), "-o", str(out), "--model", tiny_weights]) == 1
    assert "exists" in capsys.readouterr().err
    assert (
        main(
            [
                "upscale",
                str(folder / "a.png"),
                "-o",
                str(out),
                "--model",
                tiny_weights,
                "--force",
                "--ext",
                "webp",
            ]
        )
        == 0
    )
    assert (out / "a.webp").is_file()


def test_refuses_to_overwrite_an_input(tmp_path, tiny_weights, capsys):
    src = _write(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    before = src.read_bytes()
    assert main(["upscale", str(src), "-o", str(src), "--model", tiny_weights, "--force"]) == 1
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert src.read_bytes() == before
    assert main(["upscale", str(src), "-o", str(tmp_path), "--model", tiny_weights, "--force"]) == 1


def test_bad_option_values_are_clear(tmp_path, tiny_weights, capsys):
    src = _write(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert (
        main(["upscale", str(src), "-o", str(tmp_path / "y.png"), "--model", tiny_weights, "--tile", "big"])
        == 1
    )
    assert "--tile must be 'auto'" in capsys.readouterr().err
    assert (
        main(
            ["upscale", str(src), "-o", str(tmp_path / "y.png"), "--model", tiny_weights, "--outscale", "-1"]
        )
        == 1
    )
    assert "outscale must be a number > 0" in capsys.readouterr().err


@pytest.mark.real_weights
def test_default_model_offline(tmp_path, data_dir, capsys):
    """The README's main command: the embedded RealESRGAN_x4plus on a sample image."""
    crop = cv2.imread(str(data_dir / "0014.jpg"))[:24, :24]
    src = _write(tmp_path / "sample.png", crop)
    out = tmp_path / "sample_x4.png"
    assert main(["upscale", str(src), "-o", str(out)]) == 0
    assert cv2.imread(str(out)).shape == (96, 96, 3)


def test_eight_bit_formats_get_a_fitted_copy_with_a_warning(tmp_path, data_dir, tiny_weights, caplog):
    crop = cv2.imread(str(data_dir / "tree_alpha_16bit.png"), cv2.IMREAD_UNCHANGED)[:12, :10]
    src = _write(tmp_path / "deep.png", crop)
    out = tmp_path / "out"
    assert main(["upscale", str(src), "-o", str(out), "--model", tiny_weights, "--ext", "jpg"]) == 0
    written = cv2.imread(str(out / "deep.jpg"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint8 and written.shape == (48, 40, 3)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "holds 8 bits only" in messages and "has no alpha channel" in messages
