"""The contract every architecture spec fulfils; the registry holds one instance per network."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import CorruptModelError
from .policy import EnginePolicy

__all__ = [
    "ArchitectureSpec",
    "ArchitectureFacts",
    "StateDict",
    "SUPER_RESOLUTION",
    "DISCRIMINATOR",
    "indices",
    "require",
    "shape_of",
]

StateDict = dict[str, torch.Tensor]
"""Flat ``{key: tensor}`` weights, as ``core.load`` hands them to a spec."""

SUPER_RESOLUTION = "super-resolution"
DISCRIMINATOR = "discriminator"


@dataclass(frozen=True)
class ArchitectureFacts:
    """Facts derived from hyperparameters alone (no weights needed)."""

    scale: int
    input_channels: int
    output_channels: int
    multiple_of: int
    minimum_size: int
    receptive_field: int
    macs_per_pixel: int
    supports_fp16: bool
    supports_bf16: bool
    policy: EnginePolicy = field(default_factory=EnginePolicy)
    """How the engine runs this network (default: everything measured)."""


@dataclass(frozen=True)
class ArchitectureSpec:
    """One network the package can detect, build and describe.

    - ``recognize(sd)``: the state dict in this network's canonical key layout when its keys
      belong to this network (translating old layouts), else ``None``. Keys only; cheap.
    - ``hyperparameters(sd, hints)``: every constructor argument, read from tensor shapes;
      ``hints`` (file metadata or the caller's overrides) only fill in what shapes cannot tell.
    - ``build(hp)``: an untrained module with those hyperparameters.
    - ``facts(hp)``: scale, channels, size needs, cost, and the engine policy.
    - ``summary``: which files of this network load (key layouts, variants), one phrase; the
      supported-networks text in errors, ``realesrgan-kit models`` and the README is built from it.
    """

    id: str
    purpose: str
    recognize: Callable[[StateDict], StateDict | None]
    hyperparameters: Callable[[StateDict, Mapping[str, Any]], dict[str, Any]]
    build: Callable[[Mapping[str, Any]], nn.Module]
    facts: Callable[[Mapping[str, Any]], ArchitectureFacts]
    summary: str = ""


def indices(sd: StateDict, pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (one group) over the keys."""
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in sd if (m := rx.fullmatch(k))}
    return sorted(found)


def require(sd: StateDict, key: str, arch: str) -> None:
    if key not in sd:
        raise CorruptModelError(f"{arch} weights lack {key!r}: the file is incomplete or of another network")


def shape_of(sd: StateDict, key: str, arch: str, ndim: int) -> tuple[int, ...]:
    require(sd, key, arch)
    shape = tuple(sd[key].shape)
    if len(shape) != ndim:
        raise CorruptModelError(f"{arch} weight {key!r} has shape {shape}; expected {ndim} dimensions")
    return shape
