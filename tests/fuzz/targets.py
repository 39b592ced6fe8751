"""Fuzz targets: one function per parser that takes arbitrary bytes.

A target passes when the parser returns or raises one of our typed errors
(:class:`RealESRGANKitError`); any other exception, a crash or a hang is a finding. The same
targets are driven by atheris (``python -m tests.fuzz.run``) and by the bounded mutation run in
``tests/test_fuzz.py``.

Weight files are parsed from disk (that is the code path users hit), through a per-process
scratch folder on tmpfs where there is one.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["TARGETS", "ALLOWED", "scratch_dir", "pack_ncnn", "pack_safetensors_metadata"]

FUZZ_MAX_PIXELS = 1 << 22  # 4 MP: a fuzzed header may ask for any size; decoding big ones only costs time

_SCRATCH: Path | None = None


def scratch_dir() -> Path:
    global _SCRATCH
    if _SCRATCH is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="realesrgan-kit-fuzz-", dir=base))
    return _SCRATCH


def _allowed() -> tuple[type[BaseException], ...]:
    from realesrgan_kit.core.errors import RealESRGANKitError

    return (RealESRGANKitError,)


ALLOWED: tuple[type[BaseException], ...] = ()


def pack_ncnn(param: bytes, weights: bytes) -> bytes:
    """One fuzz input for the ncnn target: the .param length, the .param, then the .bin."""
    return struct.pack("<I", len(param)) + param + weights


def _unpack_ncnn(data: bytes) -> tuple[bytes, bytes]:
    if len(data) < 4:
        return data, b""
    (length,) = struct.unpack_from("<I", data)
    length = min(length, len(data) - 4)
    return data[4 : 4 + length], data[4 + length :]


_META_KEYS = ("format", "architecture", "hyperparameters", "scale", "name", "output_rescale", "source")


def pack_safetensors_metadata(tensors_file: bytes, values: dict[str, str]) -> bytes:
    """A structured input: mode byte 1, then ``key=value`` lines (the metadata to fuzz)."""
    lines = "\n".join(f"{k}={v}" for k, v in values.items()).encode("utf-8", "surrogatepass")
    return b"\x01" + lines


def _load(path: Path) -> None:
    from realesrgan_kit.core.load import load_model

    load_model(str(path), use_cache=False)


def fuzz_ncnn(data: bytes) -> None:
    param, weights = _unpack_ncnn(data)
    folder = scratch_dir()
    (folder / "m.param").write_bytes(param)
    (folder / "m.bin").write_bytes(weights)
    _load(folder / "m.param")


def fuzz_pth(data: bytes) -> None:
    path = scratch_dir() / "m.pth"
    path.write_bytes(data)
    _load(path)


_TINY_TENSORS: dict | None = None


def _tiny_tensors() -> dict:
    global _TINY_TENSORS
    if _TINY_TENSORS is None:
        import torch

        gen = torch.Generator().manual_seed(0)
        shapes = {
            "body.0.weight": (4, 3, 3, 3),
            "body.0.bias": (4,),
            "body.1.weight": (4,),
            "body.2.weight": (48, 4, 3, 3),
            "body.2.bias": (48,),
        }
        _TINY_TENSORS = {k: torch.randn(s, generator=gen) * 0.1 for k, s in shapes.items()}
    return _TINY_TENSORS


def fuzz_safetensors(data: bytes) -> None:
    """Mode byte 1: fuzzed metadata around valid tensors; otherwise the raw bytes are the file."""
    path = scratch_dir() / "m.safetensors"
    if data[:1] == b"\x01":
        from safetensors.torch import save

        metadata: dict[str, str] = {}
        for number, line in enumerate(data[1:].split(b"\n")[:16]):
            key, _, value = line.partition(b"=")
            name = key.decode("utf-8", "replace") or _META_KEYS[number % len(_META_KEYS)]
            metadata[name] = value.decode("utf-8", "replace")
        path.write_bytes(save(_tiny_tensors(), metadata=metadata))
    else:
        path.write_bytes(data)
    _load(path)


def fuzz_image(data: bytes) -> None:
    from realesrgan_kit.core.imagefile import decode_image_file

    decode_image_file(data, name="fuzz", max_pixels=FUZZ_MAX_PIXELS)


def fuzz_exif(data: bytes) -> None:
    from realesrgan_kit.core.imagefile import exif_orientation, patch_exif

    exif_orientation(data)
    patch_exif(data, width=123, height=456, orientation=1, drop_thumbnail=True)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ncnn": fuzz_ncnn,
    "pth": fuzz_pth,
    "safetensors": fuzz_safetensors,
    "image": fuzz_image,
    "exif": fuzz_exif,
}


def run_one(target: str, data: bytes) -> None:
    """Run ``target`` on ``data``; our typed errors are the expected way to refuse bad input."""
    global ALLOWED
    if not ALLOWED:
        ALLOWED = _allowed()
    try:
        TARGETS[target](data)
    except ALLOWED:
        pass
