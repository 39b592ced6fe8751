"""The one explicit list of architectures, and state dict → descriptor.

Detection asks each spec in turn whether the keys are its own; nothing is read from file
names. Adding a network means writing its folder under ``core/archs/`` (network and spec)
and adding its spec to ``ARCHITECTURES``, one line below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..archs import discriminator, rrdbnet, srvgg
from ..errors import CorruptModelError, UnsupportedModelError
from ..netspec.base import ArchitectureSpec
from .descriptor import ModelDescriptor, SizeRequirements
from .statedict import StateDict, describe_keys

__all__ = ["ARCHITECTURES", "get_spec", "detect", "build_descriptor", "supported_architectures_text"]

log = logging.getLogger(__name__)

# Detection asks them in this order: one line per folder of core/archs/.
ARCHITECTURES: tuple[ArchitectureSpec, ...] = (
    rrdbnet.RRDBNET_SPEC,
    srvgg.SRVGG_SPEC,
    discriminator.UNET_DISCRIMINATOR_SPEC,
)


def supported_architectures_text() -> str:
    """One sentence naming every registered network and what of it loads (for error messages)."""
    parts = [f"{spec.id} ({spec.summary})" if spec.summary else spec.id for spec in ARCHITECTURES]
    listed = parts[0] if len(parts) == 1 else f"{'; '.join(parts[:-1])}; and {parts[-1]}"
    return f"Supported networks: {listed}."


def get_spec(architecture: str) -> ArchitectureSpec:
    for spec in ARCHITECTURES:
        if spec.id == architecture:
            return spec
    raise UnsupportedModelError(
        f"unknown architecture {architecture!r}; known: {', '.join(s.id for s in ARCHITECTURES)}"
    )


def detect(sd: StateDict, *, source: str = "the weights") -> tuple[ArchitectureSpec, StateDict]:
    """The spec whose keys these are, and the state dict in that spec's canonical layout."""
    for spec in ARCHITECTURES:
        canonical = spec.recognize(sd)
        if canonical is not None:
            return spec, canonical
    raise UnsupportedModelError(
        f"{source} is not a network this package knows. It holds: {describe_keys(sd)}. {supported_architectures_text()}"
    )


def build_descriptor(
    sd: StateDict,
    *,
    hints: Mapping[str, Any] | None = None,
    name: str | None = None,
    source: str = "the weights",
    format: str = "state_dict",
    metadata: Mapping[str, str] | None = None,
) -> ModelDescriptor[nn.Module]:
    """Detect, read hyperparameters, build, load the weights (strictly) and describe."""
    spec, canonical = detect(sd, source=source)
    hp = spec.hyperparameters(canonical, hints or {})
    module = spec.build(hp)
    floats = {k: v.float() if v.is_floating_point() else v for k, v in canonical.items()}
    try:
        module.load_state_dict(floats, strict=True)
    except RuntimeError as exc:
        raise CorruptModelError(
            f"{source} looks like {spec.id} with {hp}, but its tensors do not fit that network: "
            f"{str(exc).strip().splitlines()[-1]}"
        ) from exc
    module.eval().requires_grad_(False)
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        log.warning("%s: some weights are NaN or infinite; outputs will be too", source)
    facts = spec.facts(hp)
    rescale = float((hints or {}).get("output_rescale", 1.0))
    return ModelDescriptor(
        module=module,
        architecture=spec.id,
        purpose=spec.purpose,
        scale=facts.scale,
        input_channels=facts.input_channels,
        output_channels=facts.output_channels,
        hyperparameters=hp,
        size_requirements=SizeRequirements(multiple_of=facts.multiple_of, minimum=facts.minimum_size),
        parameter_count=sum(p.numel() for p in module.parameters()),
        supports_fp16=facts.supports_fp16,
        supports_bf16=facts.supports_bf16,
        receptive_field=facts.receptive_field,
        macs_per_pixel=facts.macs_per_pixel,
        default_outscale=facts.scale * rescale if rescale != 1.0 else None,
        name=name,
        source=source,
        format=format,
        metadata=dict(metadata or {}),
        engine_policy=facts.policy,
    )
