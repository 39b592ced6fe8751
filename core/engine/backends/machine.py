"""What the backends key their caches and decisions on: the CPU class, the weights, the cache folder."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...zoo import model_dir

__all__ = ["cpu_class", "weights_hash", "backend_cache_dir", "read_json", "write_json_atomic"]

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "REALESRGAN_KIT_BACKEND_CACHE"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_class() -> str:
    """``AVX-512-BF16``, ``AVX-512``, ``AVX2`` or ``baseline`` from /proc/cpuinfo.

    ``ONEDNN_MAX_CPU_ISA`` (honoured by the oneDNN inside both PyTorch and OpenVINO) caps what
    the libraries use, so a cap to AVX2 reads as ``AVX2 (ISA-limited)``: timings and decisions
    made under the cap are kept apart from the native ones.
    """
    flags = _cpu_flags()
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        native = "AVX-512-BF16"
    elif "avx512f" in flags:
        native = "AVX-512"
    elif "avx2" in flags:
        native = "AVX2"
    elif flags:
        native = "baseline"
    else:
        native = "unknown"
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if cap in ("AVX2", "AVX2_VNNI", "AVX2_VNNI_2") and native.startswith("AVX-512"):
        return "AVX2 (ISA-limited)"
    return native


_INT_VIEWS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _content_sums(tensors: list[torch.Tensor]) -> tuple[int, ...]:
    """Per tensor, the wrapping sum of its raw bit patterns: one cheap read of every byte.

    A change to any one element changes its tensor's sum (the difference of two distinct words
    is not 0 modulo 2³²). Missed are only changes whose differences cancel exactly within one
    tensor (two elements swapped), which a re-load of other weights, a training step or a blend
    do not make in practice. 32-bit accumulators (64-bit for 8-byte elements) wrap, several times
    faster than widening every word to 64 bits. Summed on the tensors' own device, so a GPU
    model is not copied to the CPU. Only a cache check: sums that differ from the remembered
    ones cost a new hash, never a wrong one.
    """
    sums = []
    for t in tensors:
        size = t.element_size()
        words = t.contiguous().view(-1).view(_INT_VIEWS.get(size, torch.uint8))
        sums.append(words.sum(dtype=torch.int64 if size == 8 else torch.int32).to(torch.int64))
    if len({s.device for s in sums}) > 1:  # a model spread over devices: one transfer per tensor
        return tuple(int(s) for s in sums)
    return tuple(torch.stack(sums).tolist()) if sums else ()


_HASHES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[Any, ...], tuple[int, ...], str]] = (
    weakref.WeakKeyDictionary()
)


def weights_hash(module: nn.Module) -> str:
    """SHA-256 (16 hex digits) of the module's class, tensor names, shapes, dtypes and values.

    The hash names the converted OpenVINO IR and the stored auto measurement. A stale hash
    after the weights changed in place (``load_state_dict`` into the same module, a training
    step, a blend written in place) would run an old IR and give wrong pictures without an
    error, so every change to any value must be seen; a stale measurement would only cost
    speed. The hash is remembered per module and reused while the tensors sit at the same
    addresses with the same shapes, dtypes and per-tensor content sums (:func:`_content_sums`,
    which read every byte once but do no hashing): for RealESRGAN_x4plus (67 MB) about 13 ms
    against about 65 ms for the full hash (best of 21, one thread, shared 2-core AVX-512-BF16
    Xeon; realesr-animevideov3: 0.6 against 2.2 ms), and a job asks twice. Not the tensors' ``_version``: inference tensors (a model loaded inside
    ``torch.inference_mode()``, as ComfyUI loads every model) have no version counter, and
    reading it raises.
    """
    state = sorted(module.state_dict().items())
    layout = tuple((name, t.data_ptr(), tuple(t.shape), t.dtype, t.device) for name, t in state)
    sums = _content_sums([t for _, t in state])
    known = _HASHES.get(module)
    if known is not None and known[0] == layout and known[1] == sums:
        return known[2]
    digest = hashlib.sha256(type(module).__name__.encode())
    for name, tensor in state:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.view(-1).view(dtype=torch.uint8).numpy())
    value = digest.hexdigest()[:16]
    _HASHES[module] = (layout, sums, value)
    return value


def backend_cache_dir() -> Path:
    """Converted models, compiled blobs and backend decisions: ``$REALESRGAN_KIT_BACKEND_CACHE``,
    else ``<user model folder>/backends`` (the user model folder is ``$REALESRGAN_KIT_MODELS`` or
    the platform cache, e.g. ``~/.cache/realesrgan-kit/models``)."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else model_dir() / "backends"


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when missing or unreadable (a damaged cache is rebuilt)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable backend cache file %s (%s); it will be rewritten", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
