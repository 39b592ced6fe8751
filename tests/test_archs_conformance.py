"""The networks against an independent, plain implementation (``support/reference_impl.py``), fp32, identical."""

from __future__ import annotations

import pytest
import torch

from realesrgan_kit.core.archs import RRDBNet, SRVGGNetCompact, UNetDiscriminatorSN
from realesrgan_kit.core.archs.rrdbnet.quantization import TrunkSplitDenseBlock, split_dense_trunks
from support import reference_impl
from support.tiny_models import tiny_discriminator, tiny_rrdb, tiny_srvgg


def _input(channels: int, size: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("in_ch", [1, 3, 4])
def test_rrdbnet_matches_reference(scale, in_ch):
    net = tiny_rrdb(scale=scale, in_ch=in_ch, num_grow_ch=5, num_block=2)
    x = _input(in_ch)
    with torch.inference_mode():
        ours = net(x)
        ref = reference_impl.rrdbnet(net.state_dict(), x, scale=scale, num_block=2)
    assert ours.shape == (1, in_ch, 16 * scale, 16 * scale)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [1, 4])
def test_rrdbnet_quantization_form_computes_the_same_and_leaves_the_original(scale):
    net = tiny_rrdb(scale=scale, num_feat=8, num_grow_ch=5, num_block=2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    split = split_dense_trunks(net)
    blocks = [m for m in split.modules() if isinstance(m, TrunkSplitDenseBlock)]
    assert len(blocks) == 2 * 3
    # the trunk's share of all five convolutions runs as one: 4 growths + the block's output
    assert blocks[0].trunk.in_channels == 8 and blocks[0].trunk.out_channels == 4 * 5 + 8
    assert [c.in_channels for c in blocks[0].features] == [5, 10, 15, 20]
    x = _input(3)
    with torch.inference_mode():
        torch.testing.assert_close(split(x), net(x), rtol=0, atol=1e-5)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    with pytest.raises(TypeError, match="RRDBNet"):
        split_dense_trunks(tiny_srvgg())


@pytest.mark.parametrize("num_upsample,scale", [(1, 2), (3, 8)])
def test_rrdbnet_old_esrgan_upsample_counts(num_upsample, scale):
    net = tiny_rrdb(scale=scale, num_upsample=num_upsample)
    x = _input(3)
    with torch.inference_mode():
        torch.testing.assert_close(
            net(x),
            reference_impl.rrdbnet(net.state_dict(), x, scale=scale, num_block=2, num_upsample=num_upsample),
            rtol=0,
            atol=1e-6,
        )


def test_rrdbnet_real_size_facts():
    net = RRDBNet()
    assert sum(p.numel() for p in net.parameters()) == 16_697_987
    assert len(net.state_dict()) == 702
    assert sum(p.numel() for p in RRDBNet(num_block=6).parameters()) == 4_467_779


@pytest.mark.parametrize("bad_scale", [3, 16, 0])
def test_rrdbnet_rejects_unreachable_scale(bad_scale):
    with pytest.raises(ValueError, match="unshuffle factor"):
        RRDBNet(scale=bad_scale)


@pytest.mark.parametrize("act_type", ["prelu", "relu", "leakyrelu"])
@pytest.mark.parametrize("upscale", [1, 2, 3, 4])
def test_srvgg_matches_reference(act_type, upscale):
    net = tiny_srvgg(upscale=upscale, act_type=act_type, num_conv=3)
    x = _input(3) - 0.5  # negative inputs exercise the activations' negative side
    with torch.inference_mode():
        ours = net(x)
        ref = reference_impl.srvgg(net.state_dict(), x, num_conv=3, upscale=upscale, act_type=act_type)
    assert ours.shape == (1, 3, 16 * upscale, 16 * upscale)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)


def test_srvgg_needs_equal_channels():
    with pytest.raises(ValueError, match="num_in_ch must equal num_out_ch"):
        SRVGGNetCompact(num_in_ch=3, num_out_ch=1)


def test_unet_discriminator_matches_reference():
    net = tiny_discriminator()
    x = _input(3, size=32)
    with torch.inference_mode():
        ours = net(x)
        ref = reference_impl.unet_discriminator(net.state_dict(), x)
    assert ours.shape == (1, 1, 32, 32)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_unet_discriminator_real_size():
    net = UNetDiscriminatorSN()
    assert sum(p.numel() for p in net.parameters()) == 4_376_897
    assert {"conv1.weight_orig", "conv1.weight_u", "conv1.weight_v"} <= set(net.state_dict())
