"""``realesrgan-kit degrade``: outputs, sidecars, reproducibility, pairs, errors."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.cli.degrade_command import read_image
from realesrgan_kit.core.degrade import DegradationRecord, apply_degradation, derive_seed


def write_png(path, image_rgb):
    bgr = image_rgb[..., ::-1] if image_rgb.ndim == 3 and image_rgb.shape[2] == 3 else image_rgb
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr))


def synthetic(h=72, w=64, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.random((h // 8, w // 8, 3)).astype(np.float32)
    return np.round(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(
        np.uint8
    )


@pytest.fixture()
def inputs(tmp_path, data_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "a.png", synthetic(seed=1))
    write_png(folder / "b.png", synthetic(80, 48, seed=2))
    shutil.copy(data_dir / "0014.jpg", folder / "c.jpg")
    return folder


def test_single_file_writes_image_and_replayable_sidecar(inputs, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["degrade", str(inputs / "a.png"), "-o", str(out), "--seed", "5", "--scale", "2"]) == 0
    sidecar = json.loads((tmp_path / "out.png.json").read_text())
    assert (
        sidecar["input"] == "a.png"
        and sidecar["seed"] == 5
        and sidecar["file_seed"] == derive_seed(5, "a.png")
    )
    record = DegradationRecord.from_dict(sidecar["record"])
    written = read_image(out)
    assert written.shape == (36, 32, 3)
    np.testing.assert_array_equal(apply_degradation(read_image(inputs / "a.png"), record), written)
    assert "a.png ->" in capsys.readouterr().out


def test_rerun_and_folder_mode_reproduce_the_same_bytes(inputs, tmp_path):
    single = tmp_path / "single.png"
    assert main(["degrade", str(inputs / "b.png"), "-o", str(single), "--seed", "9"]) == 0
    first = single.read_bytes()
    assert main(["degrade", str(inputs / "b.png"), "-o", str(single), "--seed", "9", "--force"]) == 0
    assert single.read_bytes() == first
    assert main(["degrade", str(inputs), "-o", str(tmp_path / "folder"), "--seed", "9"]) == 0
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == [
        "a.png",
        "a.png.json",
        "b.png",
        "b.png.json",
        "c.png",
        "c.png.json",
    ]
    assert (tmp_path / "folder" / "b.png").read_bytes() == first
    assert (tmp_path / "folder" / "a.png").read_bytes() != first


def test_folder_with_a_broken_file_reports_it_and_fails(inputs, tmp_path, capsys):
    (inputs / "broken.png").write_bytes(b"not a png")
    assert main(["degrade", str(inputs), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "broken.png (9 bytes) could not be decoded as an image" in err and "1 of 4 file(s) failed" in err
    assert (tmp_path / "out" / "a.png").exists() and not (tmp_path / "out" / "broken.png").exists()


def test_existing_outputs_and_inputs_are_protected(inputs, tmp_path, capsys):
    out = tmp_path / "o.png"
    out.write_bytes(b"keep")
    assert main(["degrade", str(inputs / "a.png"), "-o", str(out)]) == 1
    assert out.read_bytes() == b"keep" and "exists" in capsys.readouterr().err
    before = (inputs / "a.png").read_bytes()
    assert main(["degrade", str(inputs / "a.png"), "-o", str(inputs / "a.png"), "--force"]) == 1
    assert (inputs / "a.png").read_bytes() == before
    assert "it is one of the inputs" in capsys.readouterr().err


def test_pairs_are_aligned_crops(inputs, tmp_path):
    pairs = tmp_path / "pairs"
    assert (
        main(["degrade", str(inputs / "c.jpg"), "--pairs", str(pairs), "--crop", "64", "--scale", "4"]) == 0
    )
    hr_files = sorted((pairs / "hr").iterdir())
    assert [p.name for p in hr_files] == [
        f"c_{n:03d}.png" for n in range(4)
    ]  # 44×44 LR holds 2×2 crops of 16
    meta = json.loads((pairs / "records" / "c.json").read_text())
    source = read_image(inputs / "c.jpg")
    for crop in meta["crops"]:
        hr, lr = read_image(pairs / "hr" / crop["name"]), read_image(pairs / "lr" / crop["name"])
        assert hr.shape == (64, 64, 3) and lr.shape == (16, 16, 3)
        top, left, h, w = crop["hr_box"]
        np.testing.assert_array_equal(
            hr, source[top : top + h, left : left + w]
        )  # HR is the unsharpened input
    # Without --crop: one pair, the whole LR and the HR cut to LR × scale.
    assert main(["degrade", str(inputs / "b.png"), "--pairs", str(pairs), "--scale", "3"]) == 0
    assert read_image(pairs / "hr" / "b_000.png").shape == (78, 48, 3)
    assert read_image(pairs / "lr" / "b_000.png").shape == (26, 16, 3)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--pairs", "P", "--scale", "2.5"], "pairs need an integer scale"),
        (["--pairs", "P", "--crop", "30"], "multiple of the scale 4"),
        (["-o", "O", "--scale", "0"], "scale must be from 1 to 4"),
        (["-o", "O", "--set", "noise_range"], "--set expects KEY=VALUE"),
        (["-o", "O", "--set", "jpeg_range=20,120"], "JPEG quality"),
        (["-o", "O", "--set", "nosie_range=1,2"], "did you mean noise_range"),
        ([], "nothing to write: give -o OUTPUT and/or --pairs DIR"),
    ],
)
def test_bad_options_fail_before_any_work(inputs, tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a in ("P", "O") else a for a in argv]
    assert main(["degrade", str(inputs / "a.png"), *argv]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "P").exists() and not (tmp_path / "O").exists()


def test_switches_and_overrides_reach_the_record(inputs, tmp_path):
    out = tmp_path / "o.png"
    argv = [
        "degrade",
        str(inputs / "a.png"),
        "-o",
        str(out),
        "--no-noise1",
        "--no-final-sinc",
        "--set",
        "gaussian_noise_prob2=1",
        "--set",
        "noise_range2=2,3",
        "--preset",
        "light",
    ]
    assert main(argv) == 0
    sidecar = json.loads((tmp_path / "o.png.json").read_text())
    record = sidecar["record"]
    assert record["noise1"] is None and record["final_sinc"] is None
    assert record["disabled"] == ["noise1", "final_sinc"]
    assert record["noise2"]["kind"] == "gaussian" and 2 <= record["noise2"]["sigma"] <= 3
    assert sidecar["preset"] == "light" and sidecar["overrides"] == {
        "gaussian_noise_prob2": "1",
        "noise_range2": "2,3",
    }
    assert sidecar["settings"]["noise_range2"] == [2.0, 3.0] and sidecar["settings"]["jpeg_range"] == [60, 95]


def test_16bit_rgba_is_written_as_16bit_png_with_alpha(data_dir, tmp_path):
    out = tmp_path / "tree.png"
    assert main(["degrade", str(data_dir / "tree_alpha_16bit.png"), "-o", str(out), "--scale", "2"]) == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (128, 171, 4)
    assert json.loads((tmp_path / "tree.png.json").read_text())["alpha"].startswith("resized")


def test_max_pixels_is_checked_before_decoding(inputs, tmp_path, capsys):
    """64×72 = 4608 pixels: one fewer allowed is refused with the size and the option to raise it."""
    args = ["degrade", str(inputs / "a.png"), "-o", str(tmp_path / "lr.png"), "--seed", "1"]
    assert main([*args, "--max-pixels", "4607"]) == 1
    err = capsys.readouterr().err
    assert "64×72" in err and "--max-pixels" in err and "Traceback" not in err
    assert not (tmp_path / "lr.png").exists()
    assert main([*args, "--max-pixels", "4608"]) == 0
    assert (tmp_path / "lr.png").exists()
