"""The Upscale node's ComfyUI side, with the engine replaced by a recorder that honours the
engine's contract (progress per tile over the whole batch, cancel between tiles, nothing
partial). It checks what the node hands the engine and what it makes of ComfyUI's device,
memory, progress bar, Cancel, MASK and alpha; the real engine is tested in
test_nodes_upscale.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError, OperationCancelledError
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.nodes import definitions, upscale_node, v1, v3
from support.comfy_env import comfy_env
from support.tiny_models import tiny_srvgg

NODE = "RealESRGANKitUpscale"
TILES_PER_IMAGE = 3


class RecordingEngine:
    """Nearest-neighbour "upscaling" with the engine's progress / cancel contract."""

    def __init__(self, cancel_after: int | None = None):
        self.calls: list[dict] = []
        self.estimates: list[dict] = []
        self.cancel_after = cancel_after

    def estimate_tile_memory(self, model, tile, **kwargs):
        """The real estimate, computed for the CPU (the tests' accelerators are stand-ins)."""
        from realesrgan_kit.core.engine import estimate_tile_memory

        self.estimates.append({"tile": tile, **kwargs})
        return estimate_tile_memory(model, tile, **{**kwargs, "device": "cpu"})

    def upscale(self, model, image, *, progress=None, cancel=None, **kwargs):
        self.calls.append({"model": model, "image": image, **kwargs})
        total, done = image.shape[0] * TILES_PER_IMAGE, 0
        for _ in range(total):
            if cancel is not None and cancel():
                raise OperationCancelledError("cancelled between tiles")
            done += 1
            if progress is not None:
                progress(done, total)
        factor = kwargs.get("outscale") or model.scale
        return (
            F.interpolate(image.movedim(-1, 1), scale_factor=factor, mode="nearest")
            .movedim(1, -1)
            .contiguous()
        )


@pytest.fixture(params=["v3", "v1"])
def comfy(request, tmp_path, monkeypatch):
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        env.node = (
            v3.build_v3_class(definitions.node_by_id(NODE), env.io)
            if request.param == "v3"
            else v1.node_class_mappings()[NODE]
        )
        env.engine = RecordingEngine()
        monkeypatch.setattr(upscale_node, "_engine", lambda: env.engine)
        env.ticks = env.utils.install_server_like_hook()
        yield env


@pytest.fixture(scope="module")
def model():
    return build_descriptor(tiny_srvgg(upscale=2).state_dict())


def _run(env, image, model, **widgets):
    values = {
        "resize_mode": "model scale",
        "outscale": 2.0,
        "width": 0,
        "height": 0,
        "tile": "auto",
        "tile_pad": 0,
        "precision": "auto",
        "tta": False,
        "alpha_mode": "model",
        **widgets,
    }
    return env.execution.run_node(env.node, image=image, model=model, **values)[0]


def test_widgets_reach_the_engine(comfy, model):
    image = torch.rand(1, 8, 10, 3)
    _run(comfy, image, model)
    call = comfy.engine.calls[-1]
    assert call["tile"] == "auto" and call["tile_pad"] is None and call["precision"] == "auto"
    assert call["alpha"] == "model" and call["tta"] is False and call["device"] == torch.device("cpu")
    assert not {"outscale", "width", "height"} & set(call)
    _run(
        comfy,
        image,
        model,
        resize_mode="outscale",
        outscale=3.0,
        tile=64,
        tile_pad=12,
        precision="bf16",
        tta=True,
        alpha_mode="resize",
    )
    call = comfy.engine.calls[-1]
    assert (
        call["outscale"],
        call["tile"],
        call["tile_pad"],
        call["precision"],
        call["tta"],
        call["alpha"],
    ) == (3.0, 64, 12, "bf16", True, "resize")
    _run(comfy, image, model, resize_mode="target size", width=0, height=30)
    call = comfy.engine.calls[-1]
    assert (call["width"], call["height"]) == (None, 30)


def test_tile_speaks_the_core_vocabulary_and_old_workflows_keep_their_meaning(comfy, model):
    image = torch.rand(1, 8, 10, 3)
    # ComfyUI hands a STRING widget's saved value over as text: old workflows saved 0 (auto) or a size.
    node_cls = comfy.node
    for saved, engine_tile in ((0, "auto"), (64, 64), ("whole", "whole"), (" Auto ", "auto"), ("96", 96)):
        text = comfy.execution.validate_constant(node_cls, "tile", saved)
        _run(comfy, image, model, tile=text)
        assert comfy.engine.calls[-1]["tile"] == engine_tile, saved
    with pytest.raises(InvalidParameterError, match="'whole'"):
        _run(comfy, image, model, tile="big")


def test_target_size_without_a_size_is_explained(comfy, model):
    with pytest.raises(InvalidParameterError, match="needs a width or a height"):
        _run(comfy, torch.rand(1, 8, 8, 3), model, resize_mode="target size")
    assert comfy.engine.calls == []


def test_progress_reaches_comfyuis_bar_per_tile_over_the_batch(comfy, model):
    image, mask = _run(comfy, torch.rand(3, 8, 8, 3), model)
    assert comfy.ticks == [(n, 3 * TILES_PER_IMAGE) for n in range(1, 3 * TILES_PER_IMAGE + 1)]
    assert image.shape == (3, 16, 16, 3) and mask.shape == (3, 16, 16)
    assert not mask.any(), "no alpha: an all-opaque mask"


def test_cancel_becomes_comfyuis_interrupt(comfy, model):
    """Cancel pressed mid-run: ComfyUI's own exception (reported as "interrupted", not as an error)."""
    original = comfy.engine.upscale

    def press_cancel_after_first_tile(model_, image, *, progress=None, **kw):
        def tick(done, total):
            progress(done, total)
            if done == 1:
                comfy.model_management.interrupt_current_processing(True)

        return original(model_, image, progress=tick, **kw)

    comfy.utils.set_progress_bar_global_hook(None)  # only the cancel hook may notice the flag
    comfy.engine.upscale = press_cancel_after_first_tile
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        _run(comfy, torch.rand(2, 8, 8, 3), model)
    assert comfy.model_management.processing_interrupted() is False, "the flag is consumed, as ComfyUI does"


def test_cancel_seen_by_the_progress_hook_also_stops(comfy, model):
    comfy.model_management.interrupt_current_processing(True)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        _run(comfy, torch.rand(1, 8, 8, 3), model)


def test_mask_becomes_alpha_and_comes_back_as_mask(comfy, model):
    image = torch.rand(2, 6, 8, 3)
    mask = torch.zeros(1, 6, 8)
    mask[:, :3] = 1.0  # top half transparent (ComfyUI: 1 = transparent)
    out, out_mask = _run(comfy, image, model, mask=mask)
    sent = comfy.engine.calls[-1]["image"]
    assert sent.shape == (2, 6, 8, 4)
    assert torch.equal(sent[..., 3], (1 - mask).expand(2, 6, 8))
    assert out.shape == (2, 12, 16, 3), "a 3-channel IMAGE stays 3-channel"
    assert torch.equal(out_mask[:, :6], torch.ones(2, 6, 16)) and not out_mask[:, 6:].any()


def test_four_channel_images_keep_their_alpha(comfy, model):
    image = torch.rand(1, 6, 8, 4)
    out, out_mask = _run(comfy, image, model)
    assert out.shape == (1, 12, 16, 4)
    torch.testing.assert_close(out_mask, 1 - out[..., 3])


def test_load_images_placeholder_mask_means_opaque(comfy, model):
    """Load Image gives a 64×64 zero mask for images without alpha; it must not be an error."""
    _out, out_mask = _run(comfy, torch.rand(1, 6, 8, 3), model, mask=torch.zeros(1, 64, 64))
    assert comfy.engine.calls[-1]["image"].shape[-1] == 3
    assert out_mask.shape == (1, 12, 16) and not out_mask.any()


def test_mismatched_masks_are_explained(comfy, model):
    with pytest.raises(InvalidImageError, match="mask is 5×5 but the image is 8×6"):
        _run(comfy, torch.rand(1, 6, 8, 3), model, mask=torch.ones(1, 5, 5))
    with pytest.raises(InvalidImageError, match="mask batch has 2 masks for 3 images"):
        _run(comfy, torch.rand(3, 6, 8, 3), model, mask=torch.ones(2, 6, 8))


def test_gpu_runs_make_room_first_and_give_the_memory_back(comfy, model, monkeypatch):
    class FakeAccelerator:
        type = "cuda"

    device = FakeAccelerator()
    monkeypatch.setattr(comfy.model_management, "get_torch_device", lambda: device)
    moved = []
    monkeypatch.setattr(model.module, "to", lambda where: moved.append(where) or model.module)
    order = []
    original = comfy.engine.upscale
    comfy.engine.upscale = lambda *a, **kw: order.append("run") or original(*a, **kw)
    monkeypatch.setattr(
        comfy.model_management,
        "free_memory",
        lambda required, dev, keep_loaded=None: order.append(("free", required, dev)),
    )
    _run(comfy, torch.rand(1, 8, 8, 3), model)
    assert order[0][0] == "free" and order[0][2] is device and order[1] == "run"
    assert comfy.engine.estimates[-1]["device"] is device and comfy.engine.estimates[-1]["tile"] == 512
    weights = sum(t.numel() * t.element_size() for t in model.module.state_dict().values())
    assert order[0][1] > weights
    assert comfy.engine.calls[-1]["device"] is device
    assert moved == ["cpu"]


def test_cpu_runs_do_not_evict_comfyuis_models(comfy, model):
    _run(comfy, torch.rand(1, 8, 8, 3), model)
    assert comfy.model_management.FREE_MEMORY_CALLS == []


def test_a_core_upscale_model_object_is_accepted(comfy, model):
    class SpandrelLike:  # what core's Load Upscale Model returns (duck-typed ImageModelDescriptor)
        def __init__(self, net):
            self.model, self.scale, self.input_channels, self.output_channels = net, 2, 3, 3
            self.supports_half = self.supports_bfloat16 = True

        def __call__(self, x):
            return self.model(x)

        def to(self, device):
            self.model.to(device)
            return self

    core_model = SpandrelLike(model.module)
    out, _ = _run(comfy, torch.rand(1, 8, 8, 3), core_model)
    assert comfy.engine.calls[-1]["model"] is core_model and out.shape == (1, 16, 16, 3)


def test_bad_inputs_are_explained(comfy, model):
    with pytest.raises(InvalidImageError, match="expected a ComfyUI IMAGE"):
        _run(comfy, "not an image", model)
    with pytest.raises(InvalidParameterError, match="model: expected a model from 'Load Real-ESRGAN Model'"):
        _run(comfy, torch.rand(1, 8, 8, 3), object())
