"""Per-architecture engine policy: the engine runs what the architecture's policy says (pad,
memory model, layout, fast forward) and knows no architecture by name or class."""

from __future__ import annotations

import ast
import dataclasses
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from realesrgan_kit.core.archs.rrdbnet.spec import RRDB_BODY_MAPS, RRDB_TILE_PAD
from realesrgan_kit.core.engine import default_tile_pad, estimate_tile_memory, run_upscale
from realesrgan_kit.core.engine.modelinfo import model_facts, probe_activations
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.core.netspec.policy import UNKNOWN_RECEPTIVE_FIELD_PAD, EnginePolicy, default_policy
from support.engine_fakes import NearestUpscale, spandrel_like
from support.tiny_models import tiny_rrdb, tiny_srvgg

ENGINE = Path(__file__).resolve().parents[1] / "core" / "engine"


def test_the_engine_names_no_architecture():
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert "archs" not in (node.module or ""), f"{path.name} imports {node.module}"
                assert "specs" not in (node.module or ""), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lowered = node.value.lower()
                assert lowered not in {"rrdbnet", "esrgan", "srvggnetcompact"}, f"{path.name}: {node.value!r}"


def test_rrdbnet_policy_comes_from_its_spec():
    model = build_descriptor(tiny_rrdb(scale=2, num_feat=8, num_block=1).state_dict())
    policy = model.engine_policy
    assert policy.tile_pad == min(model.receptive_field, RRDB_TILE_PAD * 2)
    assert policy.activation_elements_per_pixel == RRDB_BODY_MAPS * 8 / 4
    assert policy.fixed_activation_bytes > 0 and policy.fast_forward is not None
    assert default_tile_pad(model_facts(model)) % 2 == 0  # rounded to the unshuffle multiple


def test_srvgg_pads_its_receptive_field_and_is_probed():
    model = build_descriptor(tiny_srvgg().state_dict())
    assert model.engine_policy == EnginePolicy()
    assert default_tile_pad(model_facts(model)) == model.receptive_field


def _with_policy(model, **changes):
    return dataclasses.replace(model, engine_policy=dataclasses.replace(model.engine_policy, **changes))


def test_a_new_policy_is_obeyed_without_touching_the_engine():
    """What a new architecture would declare: its pad, its memory per pixel, its forward."""
    base = build_descriptor(tiny_srvgg(upscale=2).state_dict())
    calls = []

    def counting_forward(net):
        def forward(x):
            calls.append(tuple(x.shape))
            return net(x)

        return forward

    model = _with_policy(
        base,
        tile_pad=3,
        activation_elements_per_pixel=1000.0,
        fixed_activation_bytes=12345,
        fast_forward=counting_forward,
        channels_last=False,
    )
    image = np.random.default_rng(1).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    result = run_upscale(model, image, tile=8, precision="fp32")
    assert result.report.tile_pad == 3 and len(calls) == result.report.tiles > 1
    plain = run_upscale(base, image, tile=8, tile_pad=3, precision="fp32")
    np.testing.assert_array_equal(result.image, plain.image)
    # memory: 1000 elements per pixel (fp32) and the fixed bytes, on top of the same copies
    light = _with_policy(base, activation_elements_per_pixel=0.0)
    heavy = estimate_tile_memory(model, 16, tile_pad=0, precision="fp32")
    assert heavy - estimate_tile_memory(light, 16, tile_pad=0, precision="fp32") == 1000 * 4 * 16 * 16 + 12345


def test_a_spandrel_model_gets_a_sane_default_policy():
    foreign = spandrel_like(NearestUpscale(2), 2)
    facts = model_facts(foreign)
    assert facts.policy == default_policy()
    assert default_tile_pad(facts) == UNKNOWN_RECEPTIVE_FIELD_PAD  # nothing known about its field
    assert estimate_tile_memory(foreign, 32) > 0  # measured on a zero-weight copy


def test_the_activation_probe_counts_layers_once_per_module_and_leaves_the_weights():
    net = tiny_srvgg(upscale=2, num_feat=4, num_conv=2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    facts = model_facts(spandrel_like(net, 2))
    probe = probe_activations(facts)
    assert probe is not None and probe is probe_activations(facts)  # remembered, not re-run
    # the widest layer is the last conv, 4 features in and 3·2² out (the shuffle after it is a
    # function, not a layer); the body's 4 → 4 convs and PReLUs have 8
    assert probe.peak_elements_per_pixel == 4 + 3 * 2 * 2
    assert probe.output_elements_per_pixel == 3 * 2 * 2
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_a_module_that_fails_on_zeros_is_probed_on_meta_tensors():
    class RefusesZeros(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 12, 3, padding=1)

        def forward(self, x):
            if x.device.type == "cpu" and not bool(x.any()):
                raise ValueError("a blank input")
            return torch.nn.functional.pixel_shuffle(self.conv(x), 2)

    probe = probe_activations(model_facts(spandrel_like(RefusesZeros(), 2)))
    assert probe is not None and probe.output_elements_per_pixel == 3 * 2 * 2


def test_an_adopted_spandrel_rrdbnet_runs_with_our_policy():
    inner = tiny_rrdb(num_block=1)
    facts = model_facts(spandrel_like(inner, 4))
    assert facts.policy.fast_forward is not None and facts.policy.tile_pad is not None


@pytest.mark.parametrize("name,tiling", [("SUPPORTED", "supported"), ("DISCOURAGED", "discouraged")])
def test_spandrel_tiling_hint_is_kept_and_tiling_against_it_is_logged(name, tiling, caplog):
    foreign = spandrel_like(NearestUpscale(2), 2)
    foreign.tiling = SimpleNamespace(name=name)  # spandrel's ModelTiling enum member
    assert model_facts(foreign).policy.tiling == tiling
    image = torch.rand(1, 20, 20, 3)
    with caplog.at_level(logging.WARNING, logger="realesrgan_kit.core.engine.run"):
        run_upscale(foreign, image, tile=8, tile_pad=2, precision="fp32")
    assert ("tiling is discouraged" in caplog.text) == (tiling == "discouraged")
