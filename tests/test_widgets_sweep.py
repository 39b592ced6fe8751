"""Tile sweep: which tile sizes run, which one wins, and that the tuner's slider follows.

Timings here are scripted (the choice rule needs known numbers); the sweep on the real engine
is in test_widgets_engine.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from torch import nn

from realesrgan_kit.core.errors import InvalidParameterError, OperationCancelledError, UpscaleOutOfMemoryError
from realesrgan_kit.core.load import load_model
from realesrgan_kit.widgets.sweep import SweepPoint, SweepResult, fastest_fitting, run_tile_sweep, sweep_html
from realesrgan_kit.widgets.tuner import UpscaleTuner
from realesrgan_kit.widgets.worker import InlineExecutor
from support.engine_fakes import spandrel_like
from support.tiny_models import tiny_srvgg

MiB = 2**20
UNUSED_MODEL = spandrel_like(nn.Identity(), 1)  # the scripted runners never call the model


def _scripted(seconds_by_tile, memory_by_tile, calls, oom=()):
    def run(model, image, *, tile, **kwargs):
        calls.append((tile, image.shape[:2], kwargs))
        if tile in oom:
            raise UpscaleOutOfMemoryError(f"tile {tile} does not fit")
        report = SimpleNamespace(
            seconds=seconds_by_tile.get(tile, 0.0), peak_memory_bytes=memory_by_tile.get(tile), tiles=1
        )
        return SimpleNamespace(image=image, report=report)

    return run


@pytest.fixture()
def image():
    return np.zeros((300, 200, 3), np.uint8)


def test_fastest_fitting_respects_the_budget_and_out_of_memory():
    points = [
        SweepPoint(64, 3.0, 100 * MiB, True, 9),
        SweepPoint(128, 2.0, 300 * MiB, True, 4),
        SweepPoint(256, None, None, False, None, out_of_memory=True),
        SweepPoint(96, 2.0, 200 * MiB, True, 4),
    ]
    assert fastest_fitting(points, None).tile == 96  # tie on time → the smaller tile
    assert fastest_fitting(points, 250 * MiB).tile == 96
    assert fastest_fitting(points, 150 * MiB).tile == 64
    assert fastest_fitting(points, 10 * MiB) is None


def test_sweep_times_each_tile_on_one_crop_after_a_warmup(image):
    calls = []
    runner = _scripted({64: 3.0, 96: 1.5, 128: 1.0}, {64: 50 * MiB, 96: 80 * MiB, 128: 200 * MiB}, calls)
    progress = []
    result = run_tile_sweep(
        UNUSED_MODEL,
        image,
        (128, 64, 96, 256),
        crop=160,
        memory_budget=100 * MiB,
        precision="bf16",
        progress=lambda d, t: progress.append((d, t)),
        runner=runner,
    )
    # 256 ≥ the 160-px crop would be one tile like any other size that large: dropped.
    assert [p.tile for p in result.points] == [64, 96, 128]
    assert calls[0][:2] == ("whole", (64, 64))  # warm-up: untimed, whole 64-px piece
    assert [c[1] for c in calls[1:]] == [(160, 160)] * 3
    assert all(c[2]["precision"] == "bf16" for c in calls)
    assert result.crop_size == (160, 160) and result.best_tile == 96  # 128 is faster but over budget
    assert progress == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    table = sweep_html(result)
    assert 'data-tile="96"' in table and "96 ✓" in table and "fastest that fits: <b>96</b>" in table


def test_out_of_memory_marks_a_point_and_other_errors_stop_the_sweep(image):
    estimates = []

    def estimate(model, tile, *, precision, device):
        estimates.append((tile, precision))
        return tile * MiB

    result = run_tile_sweep(
        UNUSED_MODEL,
        image,
        (64, 128),
        crop=200,
        warmup=False,
        runner=_scripted({64: 2.0, 128: 1.0}, {}, [], oom=(128,)),
        estimate_memory=estimate,
    )
    assert result.points[1].out_of_memory and not result.points[1].fits(None)
    assert estimates == [(64, "auto")]  # no measured peak: the engine's estimate, marked as such
    assert result.points[0].memory_bytes == 64 * MiB and not result.points[0].memory_measured
    assert result.best_tile == 64 and "out of memory" in sweep_html(result)

    def cancelled(model, image, **kwargs):
        raise OperationCancelledError("stop")

    with pytest.raises(OperationCancelledError):
        run_tile_sweep(UNUSED_MODEL, image, (64,), runner=cancelled)
    with pytest.raises(InvalidParameterError, match="positive tile sizes"):
        run_tile_sweep(UNUSED_MODEL, image, (0, 64), runner=cancelled)
    with pytest.raises(InvalidParameterError, match="at least 8 pixels"):
        run_tile_sweep(UNUSED_MODEL, image, (64,), crop=4, runner=cancelled)


def test_no_fitting_tile_is_said_plainly():
    result = SweepResult((SweepPoint(64, 1.0, 500 * MiB, False, 4),), (64, 64), 100 * MiB, None)
    html = sweep_html(result)
    assert "no tile size fits the memory budget" in html and "~500.0 MiB (estimate)" in html


def test_the_panel_sets_the_tuner_tile_to_the_winner(image):
    calls = []
    model = load_model(tiny_srvgg(upscale=2).state_dict())
    runner = _scripted({64: 2.0, 96: 0.5, 128: 1.0}, {64: MiB, 96: 3 * MiB, 128: 3 * MiB}, calls)
    tuner = UpscaleTuner(image, model=model, executor=InlineExecutor(), runner=runner)
    tuner.sweep.tiles.value, tuner.sweep.crop.value = (64, 96, 128), 192
    tuner.sweep.run_button.click()
    assert tuner.error.value == "" and tuner.state == "done"
    assert tuner.tile.value == 96 and tuner.sweep.result.best_tile == 96
    assert "96 ✓" in tuner.sweep.table.value and not tuner.run_button.disabled
    assert all(kwargs["memory_budget"] is None for _, _, kwargs in calls)
    tuner.sweep.memory_budget.value = 2 / 1024  # 2 MiB, in GiB: only the 64-px tile's peak fits
    tuner.sweep.run_button.click()
    assert tuner.tile.value == 64 and tuner.sweep.result.memory_budget == 2 * MiB
    assert calls[-1][2]["memory_budget"] == 2 * MiB
    tuner.sweep.tiles.value = ()
    tuner.sweep.run_button.click()
    assert "select at least one tile size" in tuner.error.value
