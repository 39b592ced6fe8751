"""Read a weights file of any supported format into a flat state dict.

The format is told by the file's first bytes, never by its name: a ``.pth`` zip, a legacy
pickle, safetensors (a little-endian header length and ``{``), or an ncnn ``.param`` text
(whose ``.bin`` sits beside it).
"""

from __future__ import annotations

import json
import math
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ...errors import CorruptModelError, UnsafeModelError, UnsupportedModelError
from ..statedict import StateDict, unwrap_state_dict
from .ncnn import NCNN_MAGIC, read_ncnn

__all__ = ["RawWeights", "read_weights", "sniff_weight_format", "WEIGHT_FORMATS", "supported_formats_text"]

WEIGHT_FORMATS: tuple[tuple[str, str], ...] = (
    ("PyTorch .pth/.pt/.ckpt", "loaded with weights_only=True: no code in the file runs"),
    (".safetensors", "its 'hyperparameters' metadata, where present, settles what shapes cannot tell"),
    ("ncnn .param + .bin pairs", "RRDBNet and SRVGGNetCompact graphs, fp16 or fp32 weights"),
)
"""The formats :func:`read_weights` reads, as (name, detail); the text in errors and docs comes from here."""


def supported_formats_text() -> str:
    """One sentence naming every readable weights format (for error messages)."""
    names = [name for name, _ in WEIGHT_FORMATS]
    return f"Supported formats: {', '.join(names[:-1])} and {names[-1]}."


@dataclass
class RawWeights:
    state_dict: StateDict
    format: str
    hints: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def sniff_weight_format(path: Path) -> str | None:
    """``'torch-zip'``, ``'torch-pickle'``, ``'safetensors'``, ``'ncnn'`` or ``None``."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"PK\x03\x04"):
        return "torch-zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "torch-pickle"
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 0 < header_len <= path.stat().st_size - 8:
            return "safetensors"
    if head.lstrip().startswith(NCNN_MAGIC.encode()):
        return "ncnn"
    return None


# What torch.load raises on a damaged file besides UnpicklingError (found by fuzzing: a
# malformed zip gives OSError/RuntimeError from its C++ reader; a mutated pickle KeyError,
# IndexError, AttributeError or AssertionError from the weights-only unpickler).
_TORCH_LOAD_ERRORS = (
    RuntimeError,
    EOFError,
    zipfile.BadZipFile,
    ValueError,
    struct.error,
    KeyError,
    IndexError,
    AttributeError,
    TypeError,
    AssertionError,
    OverflowError,
    OSError,
)
# Largest entry count and uncompressed-to-file size ratio accepted in a checkpoint zip (torch
# stores entries uncompressed, so a real file is close to 1:1).
_MAX_ZIP_ENTRIES = 100_000
_MAX_ZIP_EXPANSION = 16


def _check_torch_zip(path: Path) -> None:
    """The zip structure torch.save writes (one folder with a ``data.pkl``), and no zip bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        OSError,
        struct.error,
        NotImplementedError,
    ) as exc:
        raise CorruptModelError(
            f"{path.name} is a damaged or truncated PyTorch checkpoint (zip): {exc}"
        ) from exc
    if not entries or len(entries) > _MAX_ZIP_ENTRIES:
        raise CorruptModelError(f"{path.name}: a PyTorch checkpoint zip with {len(entries)} entries")
    if not any(e.filename.endswith("data.pkl") and e.filename.count("/") == 1 for e in entries):
        raise CorruptModelError(
            f"{path.name} is a zip file but not a PyTorch checkpoint (no <name>/data.pkl inside)"
        )
    declared = sum(e.file_size for e in entries)
    if declared > _MAX_ZIP_EXPANSION * path.stat().st_size + (1 << 20):
        raise CorruptModelError(
            f"{path.name} declares {declared} bytes of content in a {path.stat().st_size}-byte zip; "
            "refusing a zip bomb"
        )


def _read_torch(path: Path, kind: str) -> RawWeights:
    if kind == "torch-zip":
        _check_torch_zip(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as exc:
        message = str(exc)
        offending = re.search(r"GLOBAL ([\w.]+)", message)
        if offending or "Unsupported global" in message:
            what = offending.group(1) if offending else "a Python object"
            raise UnsafeModelError(
                f"refused to load {path.name}: unpickling it would import or call {what}, which plain weights "
                "never need (the file may be malicious, or saved as a whole pickled model). Nothing from it was "
                "executed. If you trust its origin, re-save only its state dict, or convert it to .safetensors "
                "with a tool you trust."
            ) from exc
        raise CorruptModelError(
            f"{path.name} is not a readable PyTorch checkpoint: {message.splitlines()[-1][:200] if message else 'bad pickle'}"
        ) from exc
    except _TORCH_LOAD_ERRORS as exc:
        raise CorruptModelError(
            f"{path.name} is a damaged or truncated PyTorch checkpoint: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    return RawWeights(unwrap_state_dict(obj, source=path.name), format="pth")


def _read_safetensors(path: Path) -> RawWeights:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptModelError(f"{path.name} is a damaged safetensors file: {exc}") from exc
    hints = _hints_from_metadata(metadata, path.name)
    return RawWeights(
        unwrap_state_dict(tensors, source=path.name), format="safetensors", hints=hints, metadata=metadata
    )


# Hyperparameters a file's metadata may state, and what each must be (they reach constructors).
_POSITIVE_INT_HINTS = {
    "num_in_ch",
    "num_out_ch",
    "num_feat",
    "num_block",
    "num_grow_ch",
    "num_conv",
    "upscale",
    "scale",
    "num_upsample",
}


def _hints_from_metadata(metadata: dict[str, str], source: str) -> dict[str, Any]:
    """The hints stored in our safetensors metadata, checked: a bad one is a CorruptModelError."""
    hints: dict[str, Any] = {}
    if "hyperparameters" in metadata:
        try:
            parsed = json.loads(metadata["hyperparameters"])
        except ValueError as exc:
            raise CorruptModelError(f"{source}: its 'hyperparameters' metadata is not valid JSON") from exc
        if not isinstance(parsed, dict):
            raise CorruptModelError(
                f"{source}: its 'hyperparameters' metadata is a JSON {type(parsed).__name__}, not an object"
            )
        hints = parsed
    for key, value in hints.items():
        if key in _POSITIVE_INT_HINTS and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            raise CorruptModelError(
                f"{source}: hyperparameter {key}={value!r} in its metadata is not a positive integer"
            )
        if key == "act_type" and not isinstance(value, str):
            raise CorruptModelError(
                f"{source}: hyperparameter act_type={value!r} in its metadata is not a name"
            )
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise CorruptModelError(
                f"{source}: hyperparameter {key}={value!r} in its metadata is not a plain value"
            )
    if "output_rescale" in metadata:
        try:
            rescale = float(metadata["output_rescale"])
        except ValueError:
            rescale = math.nan
        if not 0 < rescale <= 1:
            raise CorruptModelError(
                f"{source}: its 'output_rescale' metadata {metadata['output_rescale'][:40]!r} is not a number in (0, 1]"
            )
        hints["output_rescale"] = rescale
    return hints


def _ncnn_pair(path: Path) -> tuple[Path, Path]:
    if path.suffix == ".bin":
        return path.with_suffix(".param"), path
    return path, path.with_suffix(".bin")


def read_weights(path: str | Path) -> RawWeights:
    """Read ``path`` (or an ncnn ``.param``/``.bin`` pair named by either file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such weights file: {path}")
    if path.is_dir():
        raise UnsupportedModelError(f"{path} is a folder; give the weights file itself")
    if path.stat().st_size == 0:
        raise CorruptModelError(f"{path} is empty (0 bytes): the download or copy did not finish")
    kind = sniff_weight_format(path)
    if kind is None and path.suffix == ".bin" and path.with_suffix(".param").is_file():
        kind = "ncnn"
    if kind in ("torch-zip", "torch-pickle"):
        return _read_torch(path, kind)
    if kind == "safetensors":
        return _read_safetensors(path)
    if kind == "ncnn":
        sd, hints = read_ncnn(*_ncnn_pair(path))
        return RawWeights(sd, format="ncnn", hints=hints)
    with path.open("rb") as fh:
        head = fh.read(12)
    raise UnsupportedModelError(
        f"{path.name} is of no known weights format (it starts with {head!r}). {supported_formats_text()}"
    )
