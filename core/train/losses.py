"""The losses of Real-ESRGAN's two stages: pixel L1, VGG perceptual, vanilla GAN."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["PerceptualLoss", "gan_loss"]


class PerceptualLoss(nn.Module):
    """Σ weight_l · L1(φ_l(output), φ_l(target)) over VGG layers φ_l taken before their ReLU.

    ``features`` maps an image batch to ``{layer name: features}`` (``vgg.VGGFeatures``). The
    target's features carry no gradient. No style (Gram) term: Real-ESRGAN sets its weight to 0.
    """

    def __init__(self, features: nn.Module, layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.features = features.requires_grad_(False).eval()
        self.layer_weights = dict(layer_weights)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # a fixed feature extractor, whatever mode the trainer sets
        return self

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out_features = self.features(output)
        with torch.no_grad():
            target_features = self.features(target.detach())
        total = output.new_zeros(())
        for name, weight in self.layer_weights.items():
            if weight:
                total = total + weight * F.l1_loss(out_features[name].float(), target_features[name].float())
        return total


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Vanilla GAN loss: binary cross-entropy with logits against all-real or all-fake labels."""
    logits = logits.float()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
