"""What the engine needs from a loaded model object, as a protocol.

Kept apart from ``descriptor.py`` so that ``core/netspec/policy.py`` (which the descriptor imports) can name
it without an import cycle.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

__all__ = ["SizeRequirementsLike", "UpscaleModelLike"]


class SizeRequirementsLike(Protocol):
    """The size facts the engine reads (ours, and spandrel's ``SizeRequirements``)."""

    @property
    def multiple_of(self) -> int: ...

    @property
    def minimum(self) -> int: ...


class UpscaleModelLike(Protocol):
    """What the engine needs from a loaded model object.

    Satisfied by :class:`ModelDescriptor` and, duck-typed, by spandrel's
    ``ImageModelDescriptor`` (what ComfyUI hands over; spandrel is not our dependency). The
    engine reads further facts (``receptive_field``, ``engine_policy`` ...) when present and
    measures or assumes them otherwise (``core/engine/modelinfo.py``).
    """

    @property
    def model(self) -> nn.Module: ...

    @property
    def scale(self) -> int: ...

    @property
    def input_channels(self) -> int: ...

    @property
    def output_channels(self) -> int: ...

    @property
    def size_requirements(self) -> SizeRequirementsLike: ...

    @property
    def supports_half(self) -> bool: ...

    @property
    def supports_bfloat16(self) -> bool: ...

    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...
