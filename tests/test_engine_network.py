"""The prepared network: RRDBNet's lean forward equals the module, precision copies leave the model alone."""

from __future__ import annotations

import pytest
import torch

from realesrgan_kit.core.archs.rrdbnet import fast_forward as rrdbnet_forward
from realesrgan_kit.core.engine.modelinfo import model_facts
from realesrgan_kit.core.engine.window_network import prepare_network
from realesrgan_kit.core.load import build_descriptor
from support.tiny_models import tiny_rrdb


@pytest.mark.parametrize("scale", [4, 2, 1])
@pytest.mark.parametrize("channels_last", [False, True])
def test_rrdb_lean_forward_equals_the_module(scale, channels_last, monkeypatch):
    net = tiny_rrdb(scale=scale, num_block=2)
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(scale))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    monkeypatch.setattr(rrdbnet_forward, "TAIL_STRIPE_BYTES", 1000)  # force many tail stripes
    with torch.inference_mode():
        expected = net(x)
        got = rrdbnet_forward.lean_forward(net, x)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-6)


def test_reduced_precision_runs_on_a_private_copy():
    model = build_descriptor(tiny_rrdb(num_block=1).state_dict())
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    prepared = prepare_network(model_facts(model), "bf16", torch.device("cpu"))
    with torch.inference_mode():
        out = prepared(torch.rand(2, 3, 12, 10))
    assert out.shape == (2, 3, 48, 40) and out.dtype == torch.float32
    after = model.module.state_dict()
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], v) for k, v in before.items())
    assert after["body.0.rdb1.conv2.weight"].is_contiguous()  # still NCHW: never converted in place
