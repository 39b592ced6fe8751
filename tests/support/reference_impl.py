"""An independent, deliberately plain implementation of the networks (RRDBNet, SRVGGNetCompact,
UNetDiscriminatorSN) from their published definitions in BasicSR and Real-ESRGAN.

It shares no code with ``core.archs``: functional convs over the state dict, pixel
(un)shuffle and nearest upsampling written as reshapes, spectral norm from its definition.
Conformance tests compare the package's modules against it.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _conv(sd, name, x, stride=1, padding=1):
    return F.conv2d(x, sd[f"{name}.weight"], sd.get(f"{name}.bias"), stride=stride, padding=padding)


def _lrelu(x, slope=0.2):
    return torch.where(x >= 0, x, x * slope)


def _nearest(x, factor):
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def _unshuffle(x, r):
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // r, r, w // r, r)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * r * r, h // r, w // r)


def _shuffle(x, r):
    b, c, h, w = x.shape
    x = x.reshape(b, c // (r * r), r, r, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c // (r * r), h * r, w * r)


def rrdbnet(sd: dict, x: torch.Tensor, *, scale: int, num_block: int, num_upsample: int = 2) -> torch.Tensor:
    unshuffle = 2**num_upsample // scale
    if unshuffle > 1:
        x = _unshuffle(x, unshuffle)
    feat = _conv(sd, "conv_first", x)
    trunk = feat
    for b in range(num_block):
        block_in = trunk
        for r in (1, 2, 3):
            rdb_in = trunk
            feats = [rdb_in]
            for c in (1, 2, 3, 4):
                feats.append(_lrelu(_conv(sd, f"body.{b}.rdb{r}.conv{c}", torch.cat(feats, 1))))
            trunk = _conv(sd, f"body.{b}.rdb{r}.conv5", torch.cat(feats, 1)) * 0.2 + rdb_in
        trunk = trunk * 0.2 + block_in
    feat = feat + _conv(sd, "conv_body", trunk)
    for n in range(1, num_upsample + 1):
        feat = _lrelu(_conv(sd, f"conv_up{n}", _nearest(feat, 2)))
    return _conv(sd, "conv_last", _lrelu(_conv(sd, "conv_hr", feat)))


def srvgg(sd: dict, x: torch.Tensor, *, num_conv: int, upscale: int, act_type: str) -> torch.Tensor:
    out = x
    for i in range(num_conv + 2):
        out = _conv(sd, f"body.{2 * i}", out)
        if i == num_conv + 1:
            break
        if act_type == "prelu":
            slope = sd[f"body.{2 * i + 1}.weight"].view(1, -1, 1, 1)
            out = torch.where(out >= 0, out, out * slope)
        elif act_type == "relu":
            out = out.clamp_min(0)
        else:
            out = _lrelu(out, 0.1)
    return _shuffle(out, upscale) + _nearest(x, upscale)


def _sn_weight(sd, name):
    w = sd[f"{name}.weight_orig"]
    u, v = sd[f"{name}.weight_u"], sd[f"{name}.weight_v"]
    sigma = torch.dot(u, w.reshape(w.shape[0], -1) @ v)
    return w / sigma


def unet_discriminator(sd: dict, x: torch.Tensor) -> torch.Tensor:
    def sn_conv(name, t, stride=1, padding=1):
        return F.conv2d(t, _sn_weight(sd, name), None, stride=stride, padding=padding)

    def up(t):
        return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

    x0 = _lrelu(_conv(sd, "conv0", x))
    x1 = _lrelu(sn_conv("conv1", x0, 2))
    x2 = _lrelu(sn_conv("conv2", x1, 2))
    x3 = _lrelu(sn_conv("conv3", x2, 2))
    x4 = _lrelu(sn_conv("conv4", up(x3))) + x2
    x5 = _lrelu(sn_conv("conv5", up(x4))) + x1
    x6 = _lrelu(sn_conv("conv6", up(x5))) + x0
    out = _lrelu(sn_conv("conv7", x6))
    out = _lrelu(sn_conv("conv8", out))
    return _conv(sd, "conv9", out)
