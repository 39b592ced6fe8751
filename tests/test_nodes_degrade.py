"""Degrade node with the real pipeline: seeds, toggles, batches, resize back, JSON record."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from realesrgan_kit.core import degrade
from realesrgan_kit.nodes.degrade_node import STEPS

NODE = "RealESRGANKitDegrade"


@pytest.fixture(scope="module")
def photo(data_dir) -> torch.Tensor:
    array = np.asarray(Image.open(data_dir / "0014.jpg").convert("RGB"))[:64, :64]
    return torch.from_numpy(array.astype(np.float32) / 255.0)[None]


def _run(env, image, **widgets):
    values = {
        "seed": 0,
        "scale": 4.0,
        "preset": "realesrgan",
        "resize_to_input": "off",
        **{s: True for s in STEPS},
        **widgets,
    }
    return env.execution.run_node(env.node, image=image, **values)[0]


def test_same_seed_same_result_and_the_record_replays(comfy, photo):
    first, record = _run(comfy, photo, seed=7)
    second, _ = _run(comfy, photo, seed=7)
    other, _ = _run(comfy, photo, seed=8)
    assert first.shape == (1, 16, 16, 3) and first.dtype == torch.float32
    assert torch.equal(first, second) and not torch.equal(first, other)
    direct = degrade.degrade(photo[0].numpy(), seed=7, scale=4.0, preset="realesrgan")
    np.testing.assert_array_equal(first[0].numpy(), direct.image)
    assert json.loads(record) == json.loads(json.dumps(direct.record.to_dict(), default=str))


def test_all_steps_off_is_a_plain_downscale(comfy, photo):
    off, _ = _run(comfy, photo, **{s: False for s in STEPS})
    assert off.shape == (1, 16, 16, 3)
    assert (
        float(
            (off[0] - torch.nn.functional.avg_pool2d(photo.movedim(-1, 1), 4)[0].movedim(0, -1)).abs().mean()
        )
        < 0.05
    )


def test_batch_uses_seed_plus_index_and_lists_records(comfy, photo):
    batch = photo.repeat(2, 1, 1, 1)
    out, records = _run(comfy, batch, seed=3)
    single, _ = _run(comfy, photo, seed=4)
    assert torch.equal(out[1:], single)
    assert isinstance(json.loads(records), list) and len(json.loads(records)) == 2


def test_resize_back_to_the_input_size(comfy, photo):
    out, _ = _run(comfy, photo, resize_to_input="nearest")
    assert out.shape == photo.shape


def test_cancel_stops_the_batch(comfy, photo, monkeypatch):
    calls = []
    original = degrade.degrade

    def press_cancel_during_first_frame(*args, **kwargs):
        calls.append(1)
        comfy.model_management.interrupt_current_processing(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(degrade, "degrade", press_cancel_during_first_frame)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        _run(comfy, photo.repeat(3, 1, 1, 1))
    assert calls == [1], "no further frame after Cancel"
