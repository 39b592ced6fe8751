"""Bad weights give typed, specific errors — never a crash, a hang, or code execution."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
import torch

from realesrgan_kit.core.errors import (
    CorruptModelError,
    ModelError,
    ModelNotFoundError,
    UnsafeModelError,
    UnsupportedModelError,
)
from realesrgan_kit.core.load import load_model
from support.ncnn_writer import write_ncnn
from support.tiny_models import tiny_rrdb, tiny_srvgg

pytestmark = pytest.mark.timeout(60)


class _WritesMarker:
    """Unpickling this calls ``open(marker, 'w')``: a stand-in for a malicious payload."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"params_ema": {"conv_first.weight": _WritesMarker(marker)}}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(UnsafeModelError, match=r"refused to load evil\.pth.*Nothing from it was executed"):
        load_model(path)
    assert not marker.exists()


def test_plain_pickle_with_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"w": _WritesMarker(marker)}, protocol=2))
    with pytest.raises(UnsafeModelError, match="would import or call"):
        load_model(path)
    assert not marker.exists()


def test_empty_file(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CorruptModelError, match=r"empty \(0 bytes\)"):
        load_model(tmp_path / "empty.pth")


def test_random_bytes(tmp_path):
    (tmp_path / "noise.safetensors").write_bytes(os.urandom(4096))
    with pytest.raises(UnsupportedModelError, match="no known weights format.*Supported formats"):
        load_model(tmp_path / "noise.safetensors")


def test_truncated_pth(tmp_path):
    torch.save(tiny_rrdb().state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptModelError, match="damaged or truncated"):
        load_model(tmp_path / "cut.pth")


def test_truncated_safetensors(tmp_path):
    from realesrgan_kit.core.load import save_safetensors

    save_safetensors(load_model(tiny_srvgg().state_dict()), tmp_path / "full.safetensors")
    data = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelError):
        load_model(tmp_path / "cut.safetensors")


def test_truncated_ncnn_bin(tmp_path):
    write_ncnn(tiny_rrdb(), tmp_path / "m.param", tmp_path / "m.bin")
    data = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "m.bin").write_bytes(data[:-37])
    with pytest.raises(CorruptModelError, match="truncated or belongs to another .param"):
        load_model(tmp_path / "m.param")


def test_mismatched_param_and_bin(tmp_path):
    write_ncnn(tiny_rrdb(), tmp_path / "a.param", tmp_path / "a.bin")
    write_ncnn(tiny_rrdb(num_feat=12), tmp_path / "b.param", tmp_path / "b.bin")
    (tmp_path / "a.bin").write_bytes((tmp_path / "b.bin").read_bytes())
    with pytest.raises(CorruptModelError, match="does not belong to this .param|unknown storage tag"):
        load_model(tmp_path / "a.param")


def test_bin_with_leftover_bytes(tmp_path):
    write_ncnn(tiny_srvgg(), tmp_path / "m.param", tmp_path / "m.bin", fp16=False)
    with open(tmp_path / "m.bin", "ab") as fh:
        fh.write(b"\0" * 64)
    with pytest.raises(CorruptModelError, match="64 bytes left after the last layer"):
        load_model(tmp_path / "m.param")


def test_missing_bin(tmp_path):
    write_ncnn(tiny_srvgg(), tmp_path / "m.param", tmp_path / "m.bin")
    (tmp_path / "m.bin").unlink()
    with pytest.raises(CorruptModelError, match=r"weights file .*m\.bin is missing"):
        load_model(tmp_path / "m.param")


def test_ncnn_graph_of_another_network(tmp_path):
    (tmp_path / "other.param").write_text(
        "7767517\n3 3\nInput data 0 1 data\nConvolution c1 1 1 data a 0=4 1=1 5=1 6=12\n"
        "Pooling p1 1 1 a out 0=0 1=2\n"
    )
    (tmp_path / "other.bin").write_bytes(b"\0\0\0\0" + b"\0" * 48 + b"\0" * 16)
    with pytest.raises(UnsupportedModelError, match="Pooling.*not part of a Real-ESRGAN graph"):
        load_model(tmp_path / "other.param")


def test_broken_param_text(tmp_path):
    (tmp_path / "bad.param").write_text("7767517\n2 2\nInput data 0 1 data\n")
    (tmp_path / "bad.bin").write_bytes(b"")
    with pytest.raises(CorruptModelError, match="declares 2 layers but lists 1"):
        load_model(tmp_path / "bad.param")


def test_state_dict_of_another_network(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Linear(8, 2))
    torch.save(other.state_dict(), tmp_path / "resnetish.pth")
    with pytest.raises(UnsupportedModelError) as info:
        load_model(tmp_path / "resnetish.pth")
    message = str(info.value)
    assert "0.weight (8, 3, 3, 3)" in message  # shows keys and shapes it saw
    assert "RRDBNet" in message and "SRVGGNetCompact" in message  # and what is supported


def test_known_architecture_with_wrong_shapes(tmp_path):
    sd = tiny_rrdb().state_dict()
    sd["body.1.rdb2.conv3.weight"] = torch.zeros(5, 7, 3, 3)
    with pytest.raises(CorruptModelError, match="do not fit that network"):
        load_model(sd)


def test_non_tensor_checkpoint(tmp_path):
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pth")
    with pytest.raises(UnsupportedModelError, match="contains no tensors"):
        load_model(tmp_path / "meta.pth")


def test_folder_and_missing_paths(tmp_path):
    (tmp_path / "dir.pth").mkdir()
    with pytest.raises(UnsupportedModelError, match="is a folder"):
        load_model(tmp_path / "dir.pth")
    with pytest.raises(ModelNotFoundError, match="no such model file"):
        load_model(tmp_path / "nope.pth")


def test_unknown_name_lists_places_searched(isolated_model_dir, tmp_path):
    with pytest.raises(ModelNotFoundError) as info:
        load_model("definitely-not-a-model", search_dirs=[tmp_path])
    message = str(info.value)
    assert str(tmp_path) in message and str(isolated_model_dir) in message
    assert "known: RealESRGAN_x4plus" in message


def test_loading_a_huge_header_does_not_hang(tmp_path):
    # A safetensors-looking header whose length points past the end of the file.
    (tmp_path / "liar.safetensors").write_bytes((10**12).to_bytes(8, "little") + b'{"a":1}')
    with pytest.raises(ModelError):
        load_model(tmp_path / "liar.safetensors")


def test_import_does_no_heavy_work(subprocess_env):
    """Importing the package loads neither torch nor any model (a fresh interpreter)."""
    code = "import sys, realesrgan_kit; print('torch' in sys.modules, 'cv2' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=subprocess_env,
    )
    assert out.stdout.split() == ["False", "False"]
