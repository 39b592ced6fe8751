"""What loading returns: the network plus every fact the engine and front ends need."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from ..netspec.base import DISCRIMINATOR, SUPER_RESOLUTION
from ..netspec.policy import EnginePolicy
from .modellike import SizeRequirementsLike, UpscaleModelLike

__all__ = [
    "ModelDescriptor",
    "SizeRequirements",
    "SizeRequirementsLike",
    "UpscaleModelLike",
    "ModelInput",
    "NetT",
    "SUPER_RESOLUTION",
    "DISCRIMINATOR",
]


@dataclass(frozen=True)
class SizeRequirements:
    """Input sides must be multiples of ``multiple_of`` and at least ``minimum`` pixels.

    The engine pads by reflection to reach them and crops the output back, so callers only
    need these facts to plan tiles (a tile smaller than ``multiple_of`` is refused).
    """

    multiple_of: int = 1
    minimum: int = 1

    def check(self, height: int, width: int) -> bool:
        m = self.multiple_of
        return height >= self.minimum and width >= self.minimum and height % m == 0 and width % m == 0


NetT = TypeVar("NetT", bound=nn.Module, covariant=True)
"""The network a descriptor holds. Covariant (the descriptor is frozen), so a
``ModelDescriptor[RRDBNet]`` is a ``ModelDescriptor[nn.Module]``. A plain TypeVar without a
default: typing_extensions is not our dependency and Python 3.10 is the floor, so write
``ModelDescriptor[nn.Module]`` where the network is not known statically."""


@dataclass(frozen=True, eq=False)
class ModelDescriptor(Generic[NetT]):
    """A loaded model: the module (of type ``NetT``) and what was read from its weights.

    Attribute names that spandrel's ``ImageModelDescriptor`` also has (``model``, ``scale``,
    ``input_channels``, ``output_channels``, ``size_requirements``, ``supports_half``,
    ``supports_bfloat16``, calling the descriptor) behave the same, so code written for one
    accepts the other.
    """

    module: NetT
    architecture: str
    purpose: str
    scale: int
    input_channels: int
    output_channels: int
    hyperparameters: Mapping[str, Any]
    size_requirements: SizeRequirements
    parameter_count: int
    supports_fp16: bool
    supports_bf16: bool
    receptive_field: int
    """Radius in input pixels that one output pixel depends on (a tile pad of this size makes
    tiled inference equal whole-image inference)."""
    macs_per_pixel: int
    """Multiply-accumulates per input pixel of one forward pass."""
    default_outscale: float | None = None
    """Output scale the model's release promises when the caller asks for none (the ncnn
    animevideov3 ×2/×3 files are the ×4 network plus a shrink); ``None`` means ``scale``."""
    name: str | None = None
    source: str = ""
    format: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    engine_policy: EnginePolicy = field(default_factory=EnginePolicy)
    """How the engine runs this architecture (tile pad, memory model, layout, fast forward)."""

    # spandrel-compatible spellings
    @property
    def model(self) -> NetT:
        return self.module

    @property
    def supports_half(self) -> bool:
        return self.supports_fp16

    @property
    def supports_bfloat16(self) -> bool:
        return self.supports_bf16

    @property
    def device(self) -> torch.device:
        try:
            return next(self.module.parameters()).device
        except StopIteration:  # a network without parameters lives wherever it is called
            return torch.device("cpu")

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.module(image)

    def to(self, device: torch.device | str) -> ModelDescriptor[NetT]:
        """Move the network (in place, as spandrel's descriptor does); hosts call this around a run."""
        self.module.to(device)
        return self

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (what ``realesrgan-kit info --json`` prints)."""
        return {
            "name": self.name,
            "architecture": self.architecture,
            "purpose": self.purpose,
            "scale": self.scale,
            "input_channels": self.input_channels,
            "output_channels": self.output_channels,
            "hyperparameters": dict(self.hyperparameters),
            "size_requirements": {
                "multiple_of": self.size_requirements.multiple_of,
                "minimum": self.size_requirements.minimum,
            },
            "parameter_count": self.parameter_count,
            "supports_fp16": self.supports_fp16,
            "supports_bf16": self.supports_bf16,
            "receptive_field": self.receptive_field,
            "macs_per_pixel": self.macs_per_pixel,
            "default_outscale": self.default_outscale,
            "source": self.source,
            "format": self.format,
        }


ModelInput = ModelDescriptor[nn.Module] | UpscaleModelLike | str | os.PathLike[str]
"""What the public functions that load on demand accept: a loaded model (ours or
spandrel-like), or a zoo name / weights path that is loaded with ``load_model``."""
