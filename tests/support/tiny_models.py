"""Tiny random-weight networks: every code path, no downloads, milliseconds per forward."""

from __future__ import annotations

from typing import TypeVar

import torch

from realesrgan_kit.core.archs import RRDBNet, SRVGGNetCompact, UNetDiscriminatorSN

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def _randomize(module: ModuleT, seed: int) -> ModuleT:
    """Seeded weights: N(0, 0.1) everywhere, PReLU slopes in 0..0.5 (as trained ones are)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            for p in sub.parameters(recurse=False):
                if isinstance(sub, torch.nn.PReLU):
                    p.copy_(torch.rand(p.shape, generator=gen) * 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return module.eval()


def tiny_rrdb(
    scale: int = 4,
    in_ch: int = 3,
    out_ch: int | None = None,
    num_feat: int = 8,
    num_block: int = 2,
    num_grow_ch: int = 5,
    num_upsample: int = 2,
    seed: int = 0,
) -> RRDBNet:
    net = RRDBNet(
        num_in_ch=in_ch,
        num_out_ch=out_ch or in_ch,
        scale=scale,
        num_feat=num_feat,
        num_block=num_block,
        num_grow_ch=num_grow_ch,
        num_upsample=num_upsample,
    )
    return _randomize(net, seed)


def tiny_srvgg(
    upscale: int = 4,
    in_ch: int = 3,
    num_feat: int = 8,
    num_conv: int = 3,
    act_type: str = "prelu",
    seed: int = 0,
) -> SRVGGNetCompact:
    net = SRVGGNetCompact(
        num_in_ch=in_ch,
        num_out_ch=in_ch,
        num_feat=num_feat,
        num_conv=num_conv,
        upscale=upscale,
        act_type=act_type,
    )
    return _randomize(net, seed)


def tiny_discriminator(in_ch: int = 3, num_feat: int = 4, seed: int = 0) -> UNetDiscriminatorSN:
    return _randomize(UNetDiscriminatorSN(num_in_ch=in_ch, num_feat=num_feat), seed)


def tiny_video_model():
    """The ×2 compact model the video tests run: a few convolutions, fast on every frame."""
    from realesrgan_kit.core.load import build_descriptor

    return build_descriptor(tiny_srvgg(upscale=2, num_feat=4, num_conv=2).state_dict())
