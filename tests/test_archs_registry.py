"""Adding an architecture is one folder under ``core/archs/`` plus one line in the registry.

The toy below stands for such a folder (its ``network.py`` and ``spec.py`` in one place): once
its spec is in ``ARCHITECTURES``, files of it are detected from their keys, loaded from disk and
run by the engine, and nothing else in the package had to learn its name.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from realesrgan_kit.core import archs
from realesrgan_kit.core.engine import run_upscale
from realesrgan_kit.core.errors import UnsupportedModelError
from realesrgan_kit.core.load import build_descriptor, load_model, registry, save_safetensors
from realesrgan_kit.core.netspec.base import (
    SUPER_RESOLUTION,
    ArchitectureFacts,
    ArchitectureSpec,
    StateDict,
    shape_of,
)

ROOT = Path(__file__).resolve().parents[1]


# --- the toy folder: network.py ---------------------------------------------------------------
class ToySR(nn.Module):
    """One 3×3 convolution to ``3·scale²`` channels, then a pixel shuffle."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.head(x), self.scale)


# --- the toy folder: spec.py ------------------------------------------------------------------
def _recognize(sd: StateDict) -> StateDict | None:
    return sd if set(sd) == {"head.weight", "head.bias"} else None


def _hyperparameters(sd: StateDict, hints: Mapping[str, Any]) -> dict[str, Any]:
    out_channels = shape_of(sd, "head.weight", "ToySR", 4)[0]
    return {"scale": math.isqrt(out_channels // 3)}


def _facts(hp: Mapping[str, Any]) -> ArchitectureFacts:
    return ArchitectureFacts(
        scale=hp["scale"],
        input_channels=3,
        output_channels=3,
        multiple_of=1,
        minimum_size=1,
        receptive_field=3,
        macs_per_pixel=27 * 3 * hp["scale"] ** 2,
        supports_fp16=True,
        supports_bf16=True,
    )


TOY_SPEC = ArchitectureSpec(
    id="ToySR",
    purpose=SUPER_RESOLUTION,
    recognize=_recognize,
    hyperparameters=_hyperparameters,
    build=lambda hp: ToySR(**hp),
    facts=_facts,
    summary="a one-convolution test network",
)


# --- the one registry line ----------------------------------------------------------------------
@pytest.fixture
def toy_registered(monkeypatch):
    """``ARCHITECTURES`` with the toy's line added for this test, and without it afterwards."""
    monkeypatch.setattr(registry, "ARCHITECTURES", (*registry.ARCHITECTURES, TOY_SPEC))


def _toy_weights() -> StateDict:
    gen = torch.Generator().manual_seed(0)
    net = ToySR(scale=2)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return net.state_dict()


def test_the_toy_is_unknown_until_its_line_is_in_the_registry():
    with pytest.raises(UnsupportedModelError, match="not a network this package knows"):
        build_descriptor(_toy_weights())
    assert "ToySR" not in registry.supported_architectures_text()


def test_a_registered_toy_is_detected_from_its_keys(toy_registered):
    model = build_descriptor(_toy_weights(), name="toy")
    assert (model.architecture, model.scale, model.hyperparameters) == ("ToySR", 2, {"scale": 2})
    assert isinstance(model.module, ToySR) and model.parameter_count == 3 * 12 * 9 + 12
    assert registry.get_spec("ToySR") is TOY_SPEC
    assert "ToySR (a one-convolution test network)" in registry.supported_architectures_text()


def test_a_registered_toy_loads_from_a_file_and_runs_in_the_engine(toy_registered, tmp_path):
    weights = _toy_weights()
    path = save_safetensors(build_descriptor(weights), tmp_path / "toy.safetensors")
    model = load_model(path, use_cache=False)
    assert model.architecture == "ToySR"
    assert all(torch.equal(model.module.state_dict()[k], v) for k, v in weights.items())

    image = np.random.default_rng(1).random((12, 17, 3), dtype=np.float32)
    result = run_upscale(model, image, tile="whole", precision="fp32", backend="torch")
    reference = ToySR(scale=2)
    reference.load_state_dict(weights)
    with torch.no_grad():
        expected = reference(torch.from_numpy(image).permute(2, 0, 1)[None]).clamp(0, 1)
    got = np.asarray(result.image)
    assert got.shape == (24, 34, 3)
    np.testing.assert_allclose(got, expected[0].permute(1, 2, 0).numpy(), atol=1e-5)


def test_each_folder_under_archs_is_one_registered_architecture():
    folders = sorted(p.parent.name for p in (ROOT / "core" / "archs").glob("*/__init__.py"))
    assert folders == ["discriminator", "rrdbnet", "srvgg"]
    registered = {spec.id: spec for spec in registry.ARCHITECTURES}
    for folder in folders:
        assert {"network.py", "spec.py"} <= {p.name for p in (ROOT / "core" / "archs" / folder).glob("*.py")}
        package = importlib.import_module(f"{archs.__name__}.{folder}")
        specs = [v for v in vars(package).values() if isinstance(v, ArchitectureSpec)]
        assert len(specs) == 1 and registered.get(specs[0].id) is specs[0], folder
    assert len(registered) == len(folders)
