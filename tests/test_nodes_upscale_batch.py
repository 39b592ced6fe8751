"""Upscale node on frame batches: the output batch is held once (no concatenated copy, no
materialised all-zero mask), progress ticks per frame and per tile, and Cancel stops between
frames. Memory is counted from PyTorch's allocator events, so the bounds are exact."""

from __future__ import annotations

import pytest
import torch

from realesrgan_kit.core.load import build_descriptor
from support.tiny_models import tiny_srvgg
from support.torch_memory import torch_peak_bytes

NODE = "RealESRGANKitUpscale"
FRAMES = 6
SIDE = 24
SCALE = 4


@pytest.fixture(scope="module")
def srvgg_x4():
    return build_descriptor(tiny_srvgg(upscale=SCALE).state_dict())


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


def _frames(count: int) -> torch.Tensor:
    return torch.rand(count, SIDE, SIDE, 3, generator=torch.Generator().manual_seed(count))


def test_an_rgb_batch_costs_its_output_and_one_frames_working_set(comfy, srvgg_x4):
    plane = (SIDE * SCALE) ** 2 * 4  # one float32 channel of one output frame
    one_image = _frames(1)
    _, peak_one, _ = torch_peak_bytes(lambda: _run(comfy, one_image, srvgg_x4))
    batch_image = _frames(FRAMES)
    (out, mask), peak_batch, kept = torch_peak_bytes(lambda: _run(comfy, batch_image, srvgg_x4))
    assert out.shape == (FRAMES, SIDE * SCALE, SIDE * SCALE, 3) and out.is_contiguous()
    assert peak_batch >= FRAMES * 3 * plane, "the counter must see the output batch"
    # Each further frame adds exactly its RGB output: a concatenated copy would add 3 planes
    # more, a materialised mask 1 plane more.
    extra_per_frame = (peak_batch - peak_one) / (FRAMES - 1)
    assert extra_per_frame <= 3 * plane
    # What ComfyUI keeps afterwards is the RGB batch; the opaque mask is a broadcast view of
    # one zero, whatever the batch size.
    assert FRAMES * 3 * plane <= kept <= FRAMES * 3 * plane + 64
    assert mask.shape == (FRAMES, SIDE * SCALE, SIDE * SCALE) and mask.dtype == torch.float32
    assert int(mask.untyped_storage().nbytes()) == 4 and not bool(mask.any())


def test_a_batch_with_alpha_keeps_one_rgba_buffer_and_the_mask(comfy, srvgg_x4):
    plane = (SIDE * SCALE) ** 2 * 4
    input_rgba = SIDE * SIDE * 4 * 4  # the image with the mask attached as alpha, per frame

    def masked(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        mask = torch.zeros(count, SIDE, SIDE)
        mask[:, :, : SIDE // 2] = 1.0  # left half transparent
        return _frames(count), mask

    one, one_mask = masked(1)
    _, peak_one, _ = torch_peak_bytes(lambda: _run(comfy, one, srvgg_x4, mask=one_mask, alpha_mode="resize"))
    batch, batch_mask = masked(FRAMES)
    (out, mask), peak_batch, kept = torch_peak_bytes(
        lambda: _run(comfy, batch, srvgg_x4, mask=batch_mask, alpha_mode="resize")
    )
    assert out.shape == (FRAMES, SIDE * SCALE, SIDE * SCALE, 3)
    # The RGB IMAGE is a view of the RGBA result (as core's planar IMAGE is a view), so per
    # frame: 4 planes of result, 1 of mask and the RGBA input; an RGB copy would add 3 planes.
    extra_per_frame = (peak_batch - peak_one) / (FRAMES - 1)
    assert extra_per_frame <= 5 * plane + input_rgba
    assert FRAMES * 5 * plane <= kept <= FRAMES * 5 * plane + 64
    assert mask.shape == (FRAMES, SIDE * SCALE, SIDE * SCALE) and mask.is_contiguous()
    left, right = mask[:, :, : SIDE * SCALE // 2 - 8], mask[:, :, SIDE * SCALE // 2 + 8 :]
    assert float(left.min()) > 0.9 and float(right.max()) < 0.1
    # Reading the view as ComfyUI's savers do (numpy, contiguous copy) gives the colour planes.
    torch.testing.assert_close(out.contiguous(), out[..., :3].clone())


def test_a_four_channel_image_keeps_its_alpha_channel(comfy, srvgg_x4):
    image = torch.rand(2, 8, 8, 4, generator=torch.Generator().manual_seed(3))
    image[..., 3] = 1.0
    image[:, :, :4, 3] = 0.0
    out, mask = _run(comfy, image, srvgg_x4, alpha_mode="resize")
    assert out.shape == (2, 32, 32, 4)
    torch.testing.assert_close(mask, 1.0 - out[..., 3])


def test_progress_counts_every_tile_of_every_frame(comfy, srvgg_x4):
    ticks = comfy.utils.install_server_like_hook()
    _run(comfy, torch.rand(3, 32, 32, 3), srvgg_x4, tile="16", tile_pad=4)
    values = [value for value, _ in ticks]
    totals = {total for _, total in ticks}
    assert len(totals) == 1
    total = totals.pop()
    assert total % 3 == 0 and total >= 3 * 4  # 2×2 tiles per frame
    assert values == sorted(values) and values[-1] == total
    assert set(range(1, total + 1)) <= set(values), "a tick per tile"


def test_cancel_between_frames_stops_the_batch(comfy, srvgg_x4):
    seen = []

    def hook(value, total, preview, prompt_id=None, node_id=None):
        seen.append((value, total))
        if value == 1:  # the first frame (one tile) is done
            comfy.model_management.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(hook)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        _run(comfy, torch.rand(4, 16, 16, 3), srvgg_x4)
    assert seen[-1][1] == 4 and max(value for value, _ in seen) == 1, "no frame ran after Cancel"
