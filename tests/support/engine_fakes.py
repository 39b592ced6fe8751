"""Spandrel-like stand-ins for engine tests: wrap any module with the attributes the engine reads."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn


class SpandrelSizes(SimpleNamespace):
    """Spandrel's ``SizeRequirements`` (public attributes only)."""

    minimum: int
    multiple_of: int
    square: bool


class SpandrelLike(SimpleNamespace):
    """A spandrel ``ImageModelDescriptor``'s public attributes, declared so that pyright checks
    it against ``UpscaleModelLike``; like spandrel's, it takes further attributes (``tiling``,
    ``_call_fn``) when a test sets them."""

    model: nn.Module
    scale: int
    input_channels: int
    output_channels: int
    size_requirements: SpandrelSizes
    supports_half: bool
    supports_bfloat16: bool

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image)


def spandrel_like(
    module: nn.Module,
    scale: int,
    channels: int = 3,
    *,
    multiple_of: int = 1,
    minimum: int = 1,
    square: bool = False,
    supports_half: bool = True,
    supports_bfloat16: bool = True,
) -> SpandrelLike:
    """What ComfyUI hands over: a spandrel ImageModelDescriptor's public attributes only."""
    return SpandrelLike(
        model=module,
        scale=scale,
        input_channels=channels,
        output_channels=channels,
        size_requirements=SpandrelSizes(minimum=minimum, multiple_of=multiple_of, square=square),
        supports_half=supports_half,
        supports_bfloat16=supports_bfloat16,
    )


class InfInReducedPrecision(nn.Module):
    """Emits +inf in one pixel whenever it runs in bf16/fp16 (a model that overflows in half)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x)
        if x.dtype != torch.float32:
            y = y.clone()
            y[..., 0, 0] = float("inf")
        return y


class OutOfMemoryAbove(nn.Module):
    """Raises PyTorch's out-of-memory error for windows wider than ``limit`` pixels."""

    def __init__(self, inner: nn.Module, limit: int) -> None:
        super().__init__()
        self.inner = inner
        self.limit = limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > self.limit or x.shape[-2] > self.limit:
            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate a {x.shape[-2]}×{x.shape[-1]} window"
            )
        return self.inner(x)


class NearestUpscale(nn.Module):
    """Nearest ×scale upsampling (a network whose exact output is known)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.anchor = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest") + self.anchor
