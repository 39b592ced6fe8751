"""The tuner and the tile sweep on the real engine.

Small inputs and the compact realesr-animevideov3 model: the point is that the widgets pass
their settings through faithfully and show what the engine reports.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from realesrgan_kit.core import engine
from realesrgan_kit.core.imagefile.arrays import read_image
from realesrgan_kit.widgets.previews import center_crop
from realesrgan_kit.widgets.sweep import run_tile_sweep
from realesrgan_kit.widgets.tuner import UpscaleTuner
from realesrgan_kit.widgets.worker import InlineExecutor

WAIT = 120


@pytest.fixture(scope="module")
def photo(data_dir):
    return np.ascontiguousarray(center_crop(read_image(data_dir / "0014.jpg"), 80, 96))


def test_the_tuner_result_is_the_engine_result_for_its_settings(animevideov3, photo):
    tuner = UpscaleTuner(photo, model=animevideov3, executor=InlineExecutor())
    tuner.tile.value, tuner.tile_pad.value, tuner.precision.value = 32, 8, "fp32"
    tuner.run_button.click()
    assert tuner.error.value == "" and tuner.state == "done"
    expected = engine.run_upscale(animevideov3, photo, tile=32, tile_pad=8, precision="fp32", outscale=4.0)
    np.testing.assert_array_equal(tuner.result, expected.image)
    report = tuner.report
    assert report.tiles > 1 and report.tile == 32 and report.tile_pad == 8
    assert tuner.result.shape == (320, 384, 3) and report.output_size == (320, 384)
    assert (tuner.progress.value, tuner.progress.max) == (report.tiles, report.tiles)
    assert (
        f"32 px, {report.tiles} tiles, pad 8" in tuner.stats.value
        and "GFLOP/s effective" in tuner.stats.value
    )
    assert tuner.compare.after and "after ×4 384×320" in tuner.compare.caption


def test_cancel_during_a_real_run_leaves_no_result(animevideov3, photo):
    tuner = UpscaleTuner(photo, model=animevideov3)  # a real worker thread
    tuner.tile.value = 32
    first_tile = threading.Event()

    def on_tile(change):
        if change["new"] >= 1 and not first_tile.is_set():
            first_tile.set()
            # From the progress callback, on the worker thread: the engine stops at its next
            # check between tiles (or, after the last tile, the worker drops the result).
            tuner.cancel()

    tuner.progress.observe(on_tile, "value")
    try:
        outcome = tuner.run().result(timeout=WAIT)
        assert first_tile.is_set() and outcome.status == "cancelled"
        assert tuner.state == "cancelled" and tuner.result is None and tuner.compare.after == b""
        assert tuner.error.value == ""
    finally:
        tuner.close()


def test_sweep_on_the_engine_times_each_tile_and_sets_the_slider(animevideov3, photo):
    result = run_tile_sweep(animevideov3, photo, (32, 48, 64), crop=48, precision="fp32")
    assert [p.tile for p in result.points] == [32]  # 48 and 64 are not smaller than the 48-px crop
    assert result.best_tile == 32
    tuner = UpscaleTuner(photo, model=animevideov3, executor=InlineExecutor())
    tuner.sweep.tiles.value, tuner.sweep.crop.value = (32, 48), 64
    tuner.sweep.run_button.click()
    assert tuner.error.value == "", tuner.error.value
    sweep = tuner.sweep.result
    assert [p.tile for p in sweep.points] == [32, 48] and all(p.seconds > 0 for p in sweep.points)
    assert all(p.memory_bytes and p.memory_bytes > 0 for p in sweep.points)
    assert sweep.best_tile in (32, 48) and tuner.tile.value == sweep.best_tile
