"""Upscale node with the real engine: tiny random models, a core-style model object, Cancel
mid-run, batches, alpha, and the real default model on a small photo crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from realesrgan_kit.core import engine
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.nodes import definitions, v3
from support.comfy_env import comfy_env
from support.tiny_models import tiny_rrdb, tiny_srvgg

NODE = "RealESRGANKitUpscale"


@pytest.fixture
def comfy(comfy):
    """The shared fixture (conftest), with the server's progress hook counting ticks."""
    comfy.ticks = comfy.utils.install_server_like_hook()
    return comfy


def _run(env, image, model, **widgets):
    values = {
        "resize_mode": "model scale",
        "outscale": 2.0,
        "width": 0,
        "height": 0,
        "tile": "auto",
        "tile_pad": 0,
        "precision": "fp32",
        "tta": False,
        "alpha_mode": "model",
        **widgets,
    }
    return env.execution.run_node(env.node, image=image, model=model, **values)[0]


@pytest.fixture
def comfy_v3(tmp_path):
    """One registration style only, for the slow real-weights test (behaviour is shared)."""
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        env.node = v3.build_v3_class(definitions.node_by_id(NODE), env.io)
        yield env


@pytest.fixture(scope="module")
def srvgg_x4():
    return build_descriptor(tiny_srvgg(upscale=4).state_dict())


@pytest.fixture(scope="module")
def rrdb_x2():
    return build_descriptor(tiny_rrdb(scale=2).state_dict())


def _reference(model, image: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.module(image.movedim(-1, 1)).movedim(1, -1).clamp(0, 1)


def test_tiny_models_give_the_engines_result(comfy, srvgg_x4, rrdb_x2):
    image = torch.rand(1, 24, 28, 3, generator=torch.Generator().manual_seed(0))
    for model, scale in ((srvgg_x4, 4), (rrdb_x2, 2)):
        out, mask = _run(comfy, image, model)
        assert out.shape == (1, 24 * scale, 28 * scale, 3) and out.dtype == torch.float32
        assert mask.shape == (1, 24 * scale, 28 * scale) and not mask.any()
        direct = engine.upscale(model, image, precision="fp32").clamp(0, 1)  # IMAGE stays in 0..1
        torch.testing.assert_close(out, direct, atol=1e-6, rtol=0)
        # Away from the borders (where the engine pads differently from a zero-padded
        # convolution) it is the network's own output.
        margin = model.receptive_field * scale
        inner = (slice(None), slice(margin, -margin), slice(margin, -margin))
        if out.shape[1] > 2 * margin and out.shape[2] > 2 * margin:
            torch.testing.assert_close(out[inner], _reference(model, image)[inner], atol=2e-3, rtol=0)


def test_tiles_are_seamless_and_reported(comfy, srvgg_x4):
    image = torch.rand(1, 40, 40, 3, generator=torch.Generator().manual_seed(1))
    whole, _ = _run(comfy, image, srvgg_x4)
    comfy.ticks.clear()
    tiled, _ = _run(comfy, image, srvgg_x4, tile=16, tile_pad=8)
    torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)  # SRVGG pad ≥ receptive field: exact
    assert len(comfy.ticks) > 1 and comfy.ticks[-1][0] == comfy.ticks[-1][1]


def test_outscale_and_target_size(comfy, srvgg_x4):
    image = torch.rand(1, 10, 20, 3)
    assert _run(comfy, image, srvgg_x4, resize_mode="outscale", outscale=2.0)[0].shape == (1, 20, 40, 3)
    assert _run(comfy, image, srvgg_x4, resize_mode="target size", width=30)[0].shape == (1, 15, 30, 3)


def test_batches_one_image_at_a_time(comfy, srvgg_x4):
    frames = torch.rand(4, 8, 8, 3, generator=torch.Generator().manual_seed(2))
    out, _ = _run(comfy, frames, srvgg_x4)
    for i in range(4):
        single, _ = _run(comfy, frames[i : i + 1], srvgg_x4)
        torch.testing.assert_close(out[i : i + 1], single, atol=1e-5, rtol=0)


def test_mask_alpha_round_trip(comfy, srvgg_x4):
    image = torch.rand(1, 8, 8, 3)
    mask = torch.zeros(1, 8, 8)
    mask[:, :, :4] = 1.0
    out, out_mask = _run(comfy, image, srvgg_x4, mask=mask, alpha_mode="resize")
    assert out.shape == (1, 32, 32, 3)
    assert out_mask[:, :, :12].min() > 0.9 and out_mask[:, :, 20:].max() < 0.1


def test_core_style_model_object(comfy, srvgg_x4):
    class SpandrelLike:
        def __init__(self, net):
            self.model, self.scale, self.input_channels, self.output_channels = net, 4, 3, 3
            self.supports_half = self.supports_bfloat16 = True
            self.size_requirements = type(
                "SizeRequirements", (), {"minimum": 0, "multiple_of": 1, "square": False}
            )()

        def __call__(self, x):
            return self.model(x)

        def to(self, device):
            self.model.to(device)
            return self

    image = torch.rand(1, 8, 8, 3)
    out, _ = _run(comfy, image, SpandrelLike(srvgg_x4.module))
    torch.testing.assert_close(
        out, engine.upscale(srvgg_x4, image, precision="fp32").clamp(0, 1), atol=1e-5, rtol=0
    )


def test_cancel_mid_run_stops_within_a_tile(comfy, srvgg_x4):
    seen = []

    def hook(value, total, preview, prompt_id=None, node_id=None):
        seen.append(value)
        if value == 1:
            comfy.model_management.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(hook)  # the flag is only seen by the cancel hook
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        _run(comfy, torch.rand(2, 64, 64, 3), srvgg_x4, tile=16, tile_pad=4)
    assert max(seen) == 1, "no tile ran after Cancel"


@pytest.mark.real_weights
def test_default_model_on_a_photo_crop(comfy_v3, x4plus, data_dir):
    photo = np.asarray(Image.open(data_dir / "0014.jpg").convert("RGB"))[60:92, 60:92]
    image = torch.from_numpy(photo.astype(np.float32) / 255.0)[None]
    out, _ = _run(comfy_v3, image, x4plus, precision="fp32")
    assert out.shape == (1, 128, 128, 3) and 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    with torch.no_grad():
        plain = x4plus.module(image.movedim(-1, 1)).movedim(1, -1).clamp(0, 1)
    assert float((out - plain).abs().mean()) < 0.01  # the network's result, whatever the precision
    # A working SR model: the result shrunk back follows the input closely.
    shrunk = torch.nn.functional.interpolate(out.movedim(-1, 1), size=(32, 32), mode="area").movedim(1, -1)
    assert np.corrcoef(shrunk.flatten().numpy(), image.flatten().numpy())[0, 1] > 0.9


def test_memory_estimate_comes_from_the_engine(srvgg_x4):
    from realesrgan_kit.nodes.upscale_node import estimate_memory

    image = torch.rand(2, 64, 64, 3)
    expected = engine.estimate_tile_memory(
        srvgg_x4, 256, tile_pad=8, precision="fp32", device="cpu", tta=True
    )
    got = estimate_memory(engine, srvgg_x4, image, 256, tile_pad=8, precision="fp32", device="cpu", tta=True)
    assert got == expected + image.nelement() * 4
    assert (
        estimate_memory(engine, srvgg_x4, image, "auto")
        == engine.estimate_tile_memory(srvgg_x4, 512) + image.nelement() * 4
    )  # auto: a 512-px tile
