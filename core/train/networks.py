"""The networks a run trains: which generators can be fine-tuned, the discriminator, the EMA."""

from __future__ import annotations

import copy
import hashlib
import math
from typing import Any

import torch
from torch import nn

from ..archs import UNetDiscriminatorSN
from ..errors import UnsupportedModelError
from ..load.descriptor import ModelDescriptor

__all__ = [
    "TRAINABLE_ARCHITECTURES",
    "check_trainable",
    "trainable_copy",
    "without_inference_tensors",
    "new_discriminator",
    "update_ema",
    "weights_digest",
]

TRAINABLE_ARCHITECTURES = ("RRDBNet", "SRVGGNetCompact")


def check_trainable(descriptor: Any) -> ModelDescriptor[nn.Module]:
    """The descriptor if this package can fine-tune it, else an UnsupportedModelError saying why."""
    if not isinstance(descriptor, ModelDescriptor):
        raise UnsupportedModelError(
            f"fine-tuning needs a model loaded by realesrgan_kit.load_model; got {type(descriptor).__name__}"
        )
    what = descriptor.name or descriptor.source or "this model"
    if descriptor.architecture not in TRAINABLE_ARCHITECTURES:
        raise UnsupportedModelError(
            f"{what} is a {descriptor.architecture} ({descriptor.purpose}); fine-tuning trains super-resolution "
            f"generators: {', '.join(TRAINABLE_ARCHITECTURES)}"
        )
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise UnsupportedModelError(
            f"{what} maps {descriptor.input_channels} to {descriptor.output_channels} channels; fine-tuning "
            "trains RGB → RGB models (the degradation pipeline makes RGB pairs)"
        )
    if descriptor.default_outscale is not None:
        raise UnsupportedModelError(
            f"{what} is the ×{descriptor.scale} network shrunk to ×{descriptor.default_outscale:g} by its "
            f"release; fine-tune the ×{descriptor.scale} network itself (e.g. realesr-animevideov3)"
        )
    if descriptor.scale not in (1, 2, 3, 4):
        raise UnsupportedModelError(
            f"{what} upscales ×{descriptor.scale}; training pairs are made for integer scales 1 to 4"
        )
    return descriptor


def trainable_copy(module: nn.Module) -> nn.Module:
    """A float32 copy in training mode with gradients on; the caller's model is never modified.

    Copied outside inference mode, so the copy's tensors are normal ones (they can require
    gradients) even when the caller is inside ``torch.inference_mode()`` or ``module`` was made
    there."""
    with torch.inference_mode(False):
        clone = copy.deepcopy(module).float()
    return clone.train().requires_grad_(True)


def without_inference_tensors(module: nn.Module) -> nn.Module:
    """``module``, or a copy of it when any of its tensors is an inference tensor.

    Autograd cannot save inference tensors for backward, so a fixed network the loss runs the
    generator's output through (a perceptual feature extractor made inside
    ``torch.inference_mode()``) must be copied into normal tensors; the copy is made outside
    inference mode, where cloning gives normal tensors.
    """
    tensors = list(module.parameters()) + list(module.buffers())
    if not any(t.is_inference() for t in tensors):
        return module
    with torch.inference_mode(False):
        return copy.deepcopy(module)


def new_discriminator(generator: torch.Generator, num_feat: int = 64) -> UNetDiscriminatorSN:
    """Real-ESRGAN's U-Net discriminator, initialised from ``generator`` (not the global RNG).

    The same scheme as PyTorch's default conv init (Kaiming-uniform, a = √5) and random
    spectral-norm vectors, drawn from the run's own generator so a seed reproduces it.
    """
    with torch.device("meta"):  # built without drawing PyTorch's default init from the global RNG
        net = UNetDiscriminatorSN(3, num_feat, skip_connection=True)
    net.to_empty(device="cpu")
    with torch.no_grad():
        for module in net.modules():
            if not isinstance(module, nn.Conv2d):
                continue
            weight = getattr(module, "weight_orig", module.weight)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
                bound = 1 / math.sqrt(fan_in)
                module.bias.uniform_(-bound, bound, generator=generator)
            for name in ("weight_u", "weight_v"):
                vector = getattr(module, name, None)
                if vector is not None:
                    vector.normal_(generator=generator)
                    vector.div_(vector.norm().clamp_min(1e-12))
            if hasattr(module, "weight_orig"):  # spectral norm's cached weight, recomputed each forward
                module.weight = weight.detach().clone()
    return net.train()


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model, parameter by parameter; buffers are copied."""
    for target, source in zip(ema.parameters(), model.parameters(), strict=True):
        target.mul_(decay).add_(source.detach(), alpha=1.0 - decay)
    for target, source in zip(ema.buffers(), model.buffers(), strict=True):
        target.copy_(source)


def weights_digest(module: nn.Module) -> str:
    """SHA-256 over a module's tensors (names, shapes, fp32 bytes): identifies a starting model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        data = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(data.shape)).encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()
