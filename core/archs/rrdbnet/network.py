"""RRDBNet: the ESRGAN / Real-ESRGAN generator, as BasicSR defines it (``basicsr/archs/rrdbnet_arch.py``).

The BasicSR network always upsamples the features ×4 and reaches scale 2 or 1 by
pixel-unshuffling the input ×2 or ×4 first. Old ESRGAN files also use one or three upsample
steps (×2, ×8) without unshuffling; ``num_upsample`` covers those, so one class serves every
layout. The output is not clamped and there is no global input residual.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["RRDBNet", "ResidualDenseBlock", "RRDB", "unshuffle_factor"]


def unshuffle_factor(scale: int, num_upsample: int) -> int:
    """Pixel-unshuffle factor of the input for a net of ``scale`` with ``num_upsample`` ×2 steps."""
    total = 2**num_upsample
    if scale <= 0 or total % scale or (total // scale) not in (1, 2, 4):
        raise ValueError(
            f"RRDBNet cannot reach scale {scale} with {num_upsample} ×2 upsample steps: "
            "the input unshuffle factor 2**num_upsample / scale must be 1, 2 or 4"
        )
    return total // scale


class ResidualDenseBlock(nn.Module):
    """Five 3×3 convs on the dense concatenation; returns ``x5 * 0.2 + x``."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Three dense blocks in a row with a scaled residual."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator with BasicSR key names (``conv_first``, ``body.N.rdbK.convJ``, ...)."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        num_upsample: int = 2,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.num_upsample = num_upsample
        self.unshuffle = unshuffle_factor(scale, num_upsample)
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        # conv_up1, conv_up2 (, conv_up3): registered as plain attributes for BasicSR key names.
        for index in range(1, num_upsample + 1):
            setattr(self, f"conv_up{index}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for index in range(1, self.num_upsample + 1):
            conv = getattr(self, f"conv_up{index}")
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
