"""What the engine needs to know about a model, read from ours or from a spandrel-like object.

ComfyUI hands over spandrel ``ImageModelDescriptor`` objects of architectures we may not
know. Facts they lack are measured on a copy of the network whose weights are all zeros (only
their shapes matter): activation sizes for the memory estimate and convolution MACs for the
report. Zeros rather than ``meta`` tensors: the first meta operation in a process imports
torch's compiler stack, which cost ~1 s of an OpenVINO run's start, while a zero-weight forward
on a 16² window costs ~0.2 s (x4plus; both on a 2-core AVX-512-BF16 EPYC) and reads untouched
zero pages, not new memory. When
neither works the engine falls back to conservative constants.
"""

from __future__ import annotations

import copy
import logging
import weakref
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import InvalidParameterError
from ..load.modellike import UpscaleModelLike
from ..netspec.policy import UNKNOWN_RECEPTIVE_FIELD_PAD, EnginePolicy, default_policy

__all__ = ["ModelFacts", "model_facts", "probe_activations", "UNKNOWN_RECEPTIVE_FIELD_PAD"]

log = logging.getLogger(__name__)

_PROBE = 16  # probe side in input pixels (rounded up to the size multiple)


@dataclass(frozen=True)
class ModelFacts:
    module: nn.Module
    scale: int
    input_channels: int
    output_channels: int
    multiple_of: int
    minimum: int
    square: bool
    supports_half: bool
    supports_bfloat16: bool
    receptive_field: int | None
    macs_per_pixel: int | None
    default_outscale: float | None
    architecture: str | None
    device: torch.device
    policy: EnginePolicy
    """How to run this architecture (the spec's, or a default for foreign models)."""


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def model_facts(model: UpscaleModelLike) -> ModelFacts:
    """Facts from a ``ModelDescriptor`` or any spandrel-like object (``.model``, ``.scale`` ...).

    A spandrel object whose weights are a network we know (ESRGAN/Real-ESRGAN RRDBNet,
    SRVGGNetCompact) is adopted: rebuilt as our module, checked to give the same output on a
    small random input, and then run with our receptive field, MACs and engine policy.
    """
    facts = _read_facts(model)
    if facts.receptive_field is None:
        adopted = _adopt(facts)
        if adopted is not None:
            return adopted
    return facts


def _read_facts(model: UpscaleModelLike) -> ModelFacts:
    module = _field(model, "module", "model")
    if not isinstance(module, nn.Module):
        if isinstance(model, nn.Module):
            raise InvalidParameterError(
                "upscale() needs a loaded model (load_model(...) or a spandrel descriptor), not a bare nn.Module: "
                "its scale and channels are unknown. Wrap it with realesrgan_kit.core.load.build_descriptor(module.state_dict())."
            )
        raise InvalidParameterError(
            f"upscale() needs a loaded model (load_model(...) or a spandrel ImageModelDescriptor); got {type(model).__name__}"
        )
    scale = _field(model, "scale")
    if not isinstance(scale, int) or scale < 1:
        raise InvalidParameterError(f"the model's scale must be a positive integer, got {scale!r}")
    purpose = _field(model, "purpose")
    if purpose is not None and purpose not in ("super-resolution", "SR", "Restoration", "FaceSR"):
        raise InvalidParameterError(
            f"this model is a {purpose}, not an image-to-image network; it cannot upscale"
        )
    reqs = _field(model, "size_requirements")
    multiple = int(_field(reqs, "multiple_of", default=1) or 1)
    minimum = int(_field(reqs, "minimum", default=1) or 1)
    square = bool(_field(reqs, "square", default=False))
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    rf = _field(model, "receptive_field")
    macs = _field(model, "macs_per_pixel")
    policy = _field(model, "engine_policy")
    arch = _field(model, "architecture")
    arch_name = (
        arch if isinstance(arch, str) or arch is None else str(_field(arch, "id", "name", default=arch))
    )
    return ModelFacts(
        module=module,
        scale=scale,
        input_channels=int(_field(model, "input_channels", default=3)),
        output_channels=int(_field(model, "output_channels", default=3)),
        multiple_of=max(1, multiple),
        minimum=max(1, minimum),
        square=square,
        supports_half=bool(_field(model, "supports_half", "supports_fp16", default=True)),
        supports_bfloat16=bool(_field(model, "supports_bfloat16", "supports_bf16", default=True)),
        receptive_field=int(rf) if isinstance(rf, (int, float)) else None,
        macs_per_pixel=int(macs) if isinstance(macs, (int, float)) else None,
        default_outscale=_field(model, "default_outscale"),
        architecture=arch_name,
        device=device,
        policy=policy if isinstance(policy, EnginePolicy) else default_policy(model),
    )


@dataclass(frozen=True)
class ActivationProbe:
    """Per input pixel of one image: the largest (inputs + output) elements of any leaf module,
    the network output's elements and the convolution MACs."""

    peak_elements_per_pixel: float
    output_elements_per_pixel: float
    macs_per_pixel: float


def _placeholder_copy(module: nn.Module, device: str) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers are float32 zeros (or meta tensors)."""
    memo: dict[int, Any] = {}
    for t in list(module.parameters()) + list(module.buffers()):
        if device == "meta":
            blank = torch.empty_like(t, device="meta")
        else:
            blank = torch.zeros(t.shape, dtype=torch.float32 if t.is_floating_point() else t.dtype)
        memo[id(t)] = nn.Parameter(blank, requires_grad=False) if isinstance(t, nn.Parameter) else blank
    return copy.deepcopy(module, memo)


_probes: weakref.WeakKeyDictionary[nn.Module, ActivationProbe | None] = weakref.WeakKeyDictionary()


def probe_activations(facts: ModelFacts) -> ActivationProbe | None:
    """Run the network on a placeholder copy and record activation sizes (``None`` on failure).

    Remembered per module for the life of the module, so a job's several estimates probe once.
    """
    if facts.module in _probes:
        return _probes[facts.module]
    probe = None
    for device in ("cpu", "meta"):
        try:
            probe = _probe(facts, device)
            break
        except Exception as exc:  # an architecture that cannot run this way: try the next, then constants
            log.debug("%s probe of %s failed: %s", device, type(facts.module).__name__, exc)
    _probes[facts.module] = probe
    return probe


def _probe(facts: ModelFacts, device: str) -> ActivationProbe:
    side = max(_PROBE, facts.minimum)
    side = -(-side // facts.multiple_of) * facts.multiple_of
    peak = 0
    macs = 0

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        nonlocal peak, macs
        elems = sum(t.numel() for t in inputs if isinstance(t, torch.Tensor))
        outs = output if isinstance(output, (tuple, list)) else (output,)
        elems += sum(t.numel() for t in outs if isinstance(t, torch.Tensor))
        peak = max(peak, elems)
        if isinstance(module, nn.Conv2d) and isinstance(output, torch.Tensor):
            kh, kw = module.kernel_size
            macs += output.numel() * (module.in_channels // module.groups) * kh * kw

    copy_ = _placeholder_copy(facts.module, device)
    for m in copy_.modules():
        if not list(m.children()):
            m.register_forward_hook(hook)
    # A foreign model's own call function (a descriptor's: tuple outputs, noise planes) is how
    # the engine runs it, so it is how it is measured.
    call = facts.policy.fast_forward if facts.policy.probe_precision else None
    forward = copy_ if call is None else call(copy_)
    with torch.inference_mode():
        out = forward(torch.zeros(1, facts.input_channels, side, side, device=device))
    pixels = side * side
    return ActivationProbe(peak / pixels, out.numel() / pixels, macs / pixels)


def _adopt(facts: ModelFacts) -> ModelFacts | None:
    """Our equivalent of a foreign module with known weights, or ``None``."""
    from ..errors import ModelError
    from ..load import build_descriptor

    try:
        ours = build_descriptor(facts.module.state_dict(), source="the model passed in")
    except ModelError:
        return None
    if ours.purpose != "super-resolution" or (ours.scale, ours.input_channels, ours.output_channels) != (
        facts.scale,
        facts.input_channels,
        facts.output_channels,
    ):
        return None
    side = 16 * ours.size_requirements.multiple_of
    probe = torch.rand(1, facts.input_channels, side, side, generator=torch.Generator().manual_seed(0))
    dtype = next(iter(facts.module.parameters()), torch.empty(0)).dtype
    try:
        with torch.inference_mode():
            theirs = facts.module(probe.to(facts.device, dtype)).float().cpu()
            mine = ours.module(probe)
    except (RuntimeError, TypeError, ValueError) as exc:
        log.debug("not adopting %s: %s", type(facts.module).__name__, exc)
        return None
    tolerance = 1e-3 if dtype == torch.float32 else 5e-2
    if theirs.shape != mine.shape or float((theirs - mine).abs().max()) > tolerance:
        log.debug(
            "not adopting %s: its output differs from our %s", type(facts.module).__name__, ours.architecture
        )
        return None
    log.debug("running %s as our %s", type(facts.module).__name__, ours.architecture)
    return ModelFacts(
        module=ours.module,
        scale=ours.scale,
        input_channels=ours.input_channels,
        output_channels=ours.output_channels,
        multiple_of=max(facts.multiple_of, ours.size_requirements.multiple_of),
        minimum=max(facts.minimum, ours.size_requirements.minimum),
        square=facts.square,
        supports_half=facts.supports_half,
        supports_bfloat16=facts.supports_bfloat16,
        receptive_field=ours.receptive_field,
        macs_per_pixel=ours.macs_per_pixel,
        default_outscale=facts.default_outscale,
        architecture=ours.architecture,
        device=facts.device,
        policy=ours.engine_policy,
    )
