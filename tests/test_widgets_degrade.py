"""DegradationExplorer on the real degradation pipeline."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from realesrgan_kit.core import degrade as degrade_module
from realesrgan_kit.core.errors import OperationCancelledError
from realesrgan_kit.core.imagefile.arrays import read_image
from realesrgan_kit.widgets.explorer import STEP_SETTINGS, DegradationExplorer
from realesrgan_kit.widgets.previews import center_crop
from realesrgan_kit.widgets.worker import InlineExecutor

WAIT = 60


@pytest.fixture(scope="module")
def baboon(data_dir):
    return np.ascontiguousarray(center_crop(read_image(data_dir / "gt" / "baboon.png"), 64, 64))


def test_every_control_names_a_real_step_and_setting():
    fields = {f.name for f in dataclasses.fields(degrade_module.DegradationSettings)}
    assert set(STEP_SETTINGS) == set(degrade_module.STEPS)
    assert {name for names in STEP_SETTINGS.values() for name in names} <= fields


def test_the_explorer_shows_exactly_what_degrade_returns(baboon):
    explorer = DegradationExplorer(baboon, seed=5, executor=InlineExecutor())
    assert explorer.state == "done" and explorer.error.value == ""
    expected = degrade_module.degrade(baboon, seed=5, scale=4, preset="realesrgan")
    np.testing.assert_array_equal(explorer.degraded, expected.image)
    assert explorer.record.to_dict() == expected.record.to_dict()
    assert explorer.degraded.shape == (16, 16, 3) and explorer.degraded_view.value
    assert all(f">{step}</th>" in explorer.parameters.value for step in degrade_module.STEPS)

    explorer.steps["noise2"].value = False
    explorer.ranges["jpeg_range"].value = (80, 90)
    explorer.seed.value = 6
    assert explorer.overrides() == {"jpeg_range": (80, 90)}
    expected = degrade_module.degrade(
        baboon,
        seed=6,
        scale=4,
        enabled={**{s: True for s in degrade_module.STEPS}, "noise2": False},
        overrides={"jpeg_range": (80, 90)},
    )
    np.testing.assert_array_equal(explorer.degraded, expected.image)
    assert "noise2" in explorer.record.disabled and "<td>off</td>" in explorer.parameters.value

    explorer.preset.value = "light"
    assert explorer.overrides() == {}  # the ranges now show the light preset
    assert explorer.ranges["jpeg_range"].value == degrade_module.PRESETS["light"].jpeg_range


def test_an_invalid_range_is_reported_in_the_widget(baboon):
    explorer = DegradationExplorer(baboon, executor=InlineExecutor())
    explorer.ranges["resize_range"].value = (1.5, 2.0)  # degrade needs low ≤ 1 ≤ high
    assert explorer.state == "failed"
    assert "InvalidParameterError" in explorer.error.value and "resize_range" in explorer.error.value


def test_changes_during_a_job_are_applied_when_it_ends(baboon):
    """Change the seed while an upscale runs: the explorer degrades again afterwards."""
    started, proceed = threading.Event(), threading.Event()

    def gated_runner(model, image, *, width, height, progress, cancel, **kwargs):
        started.set()
        assert proceed.wait(WAIT)
        raise OperationCancelledError("stopped by the test")

    explorer = DegradationExplorer(
        baboon, seed=1, model="realesr-animevideov3", runner=gated_runner
    )  # real thread
    try:
        explorer.worker.future.result(timeout=WAIT)  # the first degrade
        first = explorer.record.to_dict()
        explorer.upscale_button.click()
        assert started.wait(WAIT)
        explorer.seed.value = 2  # while busy: remembered, not run
        assert explorer.record.to_dict() == first
        redone = threading.Event()
        explorer.observe(lambda change: change["new"] == "done" and redone.set(), "state")
        proceed.set()
        assert redone.wait(WAIT)
        explorer.worker.future.result(timeout=WAIT)
        expected = degrade_module.degrade(baboon, seed=2, scale=4)
        np.testing.assert_array_equal(explorer.degraded, expected.image)
    finally:
        proceed.set()
        explorer.close()


def test_upscale_this_compares_the_model_output_with_the_original(baboon):
    from realesrgan_kit.core import engine
    from realesrgan_kit.core.load import load_model
    from realesrgan_kit.core.metrics import psnr, ssim

    explorer = DegradationExplorer(baboon, seed=3, model="realesr-animevideov3", executor=InlineExecutor())
    explorer.upscale_button.click()
    assert explorer.error.value == "" and explorer.state == "done"
    expected = engine.run_upscale(load_model("realesr-animevideov3"), explorer.degraded, width=64, height=64)
    np.testing.assert_array_equal(explorer.restored, expected.image)
    assert explorer.metrics == {"psnr": psnr(baboon, expected.image), "ssim": ssim(baboon, expected.image)}
    assert f"PSNR {explorer.metrics['psnr']:.2f} dB" in explorer.metrics_view.value
    assert explorer.compare.before and explorer.compare.after
