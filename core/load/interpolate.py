"""Network interpolation: one model whose every tensor is ``w·a + (1−w)·b``.

This is how Real-ESRGAN's denoise strength works: realesr-general-x4v3 blended with its
weak-denoise twin (strength 1 = the plain model, 0 = the twin).
"""

from __future__ import annotations

import copy
from dataclasses import replace

from torch import nn

from ..errors import IncompatibleModelsError, InvalidParameterError
from .descriptor import ModelDescriptor, NetT

__all__ = ["interpolate_models"]


def interpolate_models(
    first: ModelDescriptor[NetT], second: ModelDescriptor[nn.Module], weight: float
) -> ModelDescriptor[NetT]:
    """A new descriptor with ``weight·first + (1 − weight)·second``; inputs stay unchanged.

    The result holds a copy of ``first``'s network, so it keeps that network's type.
    """
    if not 0.0 <= float(weight) <= 1.0:
        raise InvalidParameterError(f"interpolation weight must be within 0..1, got {weight}")
    if first.architecture != second.architecture or dict(first.hyperparameters) != dict(
        second.hyperparameters
    ):
        raise IncompatibleModelsError(
            f"cannot interpolate {first.name or first.architecture} {dict(first.hyperparameters)} with "
            f"{second.name or second.architecture} {dict(second.hyperparameters)}: both must be the same network "
            "with the same hyperparameters"
        )
    sd_a, sd_b = first.module.state_dict(), second.module.state_dict()
    mixed = {k: (sd_a[k].float() * weight + sd_b[k].float() * (1.0 - weight)).to(sd_a[k].dtype) for k in sd_a}
    module = copy.deepcopy(first.module)
    module.load_state_dict(mixed)
    name = f"{first.name or 'A'}×{weight:g}+{second.name or 'B'}×{1 - weight:g}"
    return replace(
        first, module=module, name=name, source=f"{first.source} ⊕ {second.source}", format="interpolated"
    )
