"""Which floating-point format runs the network, and on which device.

``auto`` picks fp16 on CUDA and MPS (tensor cores / the GPU's native half), bf16 on CPUs where
PyTorch has fast bf16 convolutions (oneDNN with AVX-512-BF16 or AMX), else fp32. A model whose
descriptor says it cannot run in a format is never run in it; a tile whose reduced-precision
output is not finite is recomputed in fp32 by the runner. Models that are not ours (their
policy says ``probe_precision``) are first probed in the reduced format (``precision_probe``):
``auto`` runs fp32 where they raise or lose quality there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from ..errors import InvalidParameterError, RealESRGANKitError
from ..options import PRECISIONS
from .dtypes import DTYPES

if TYPE_CHECKING:
    from ..load.modellike import UpscaleModelLike
    from .modelinfo import ModelFacts

__all__ = [
    "PRECISIONS",
    "DTYPES",
    "resolve_device",
    "resolve_precision",
    "cpu_has_fast_bf16",
    "cpu_has_fast_fp16",
]

log = logging.getLogger(__name__)


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN has native bf16 convolution kernels on this CPU.

    ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is PyTorch's own check (AVX-512 with the
    BF16 extension, or AMX); without it bf16 convolutions are emulated and slower than fp32.
    """
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # older builds without the probe: assume no
        return False


def cpu_has_fast_fp16() -> bool:
    """True when oneDNN has native fp16 kernels (AVX-512-FP16 or AMX-FP16)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(device: Any, model_device: torch.device | None = None) -> torch.device:
    """``None`` → the model's accelerator if it is on one, else CUDA, else MPS, else CPU."""
    if device is None:
        if model_device is not None and model_device.type != "cpu":
            return model_device
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidParameterError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(
            "device 'cuda' was asked for, but this PyTorch build sees no CUDA GPU; use device='cpu'"
        )
    if resolved.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise InvalidParameterError(
            "device 'mps' was asked for, but MPS is not available here; use device='cpu'"
        )
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise InvalidParameterError(f"device must be cpu, cuda or mps, got {device!r}")
    return resolved


def _supports(model: UpscaleModelLike | ModelFacts, name: str) -> bool:
    return bool(getattr(model, name, True))


def resolve_precision(model: UpscaleModelLike | ModelFacts, precision: str, device: Any) -> str:
    """The format actually used: ``"fp32"``, ``"bf16"`` or ``"fp16"``.

    An explicit request is honoured unless the model forbids it (then fp32, with a warning);
    ``auto`` follows the module docstring.
    """
    if precision not in PRECISIONS:
        raise InvalidParameterError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "int8":
        raise InvalidParameterError(
            "precision 'int8' runs on the OpenVINO backend only; use backend='openvino' (or 'auto'), "
            "or a floating-point precision (auto, fp32, bf16, fp16) with backend='torch'"
        )
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    half_ok, bf16_ok = _supports(model, "supports_half"), _supports(model, "supports_bfloat16")
    if precision == "auto":
        return _probed(model, _auto_precision(dev, half_ok, bf16_ok), dev, asked=False)
    if (precision == "fp16" and not half_ok) or (precision == "bf16" and not bf16_ok):
        log.warning("this model does not support %s; running it in fp32", precision)
        return "fp32"
    if dev.type == "cpu" and precision == "bf16" and not cpu_has_fast_bf16():
        log.warning("bf16 on this CPU is emulated (no AVX-512-BF16/AMX): it will be slower than fp32")
    if dev.type == "cpu" and precision == "fp16" and not cpu_has_fast_fp16():
        log.warning("fp16 on this CPU is emulated and slow; bf16 or fp32 is faster here")
    return _probed(model, precision, dev, asked=True)


def _auto_precision(dev: torch.device, half_ok: bool, bf16_ok: bool) -> str:
    if dev.type in ("cuda", "mps"):
        if half_ok:
            return "fp16"
        if bf16_ok and dev.type == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp32"
    return "bf16" if bf16_ok and cpu_has_fast_bf16() else "fp32"


def _probed(model: UpscaleModelLike | ModelFacts, precision: str, dev: torch.device, *, asked: bool) -> str:
    """``precision``, or what the precision probe makes of it for a model that is not ours."""
    if precision == "fp32":
        return precision
    # imported here: the probe runs the network through window_network.py, which imports this module
    from .modelinfo import ModelFacts, model_facts
    from .precision_probe import check_reduced_precision

    if isinstance(model, ModelFacts):
        facts = model
    elif getattr(model, "engine_policy", None) is not None:
        return precision  # one of ours: its policy was measured, not probed
    else:
        try:
            facts = model_facts(model)
        except RealESRGANKitError:  # not a model the engine can read: nothing to probe
            return precision
    if not facts.policy.probe_precision:
        return precision
    return check_reduced_precision(facts, precision, dev, asked=asked)
