"""UpscaleTuner, headless: controls, validation shown in the widget, the worker plumbing.

These tests need no upscale engine: the real upscale runs in test_widgets_engine.py. Here the
runner is a stand-in where the test is about the widget (responsiveness, cancel, how a
report or an error is shown), never about upscaling.
"""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from realesrgan_kit.core.errors import InvalidParameterError, OperationCancelledError
from realesrgan_kit.core.imagefile.arrays import read_image
from realesrgan_kit.core.load import load_model
from realesrgan_kit.core.zoo import DEFAULT_MODEL, ZOO
from realesrgan_kit.widgets.tuner import TILE_CHOICES, UpscaleTuner
from realesrgan_kit.widgets.worker import InlineExecutor
from support.tiny_models import tiny_srvgg

WAIT = 10


@pytest.fixture(scope="module")
def tiny_model():
    return load_model(tiny_srvgg(upscale=2).state_dict())


@pytest.fixture()
def image():
    return np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)


def _report(**changes):
    fields = dict(
        tile=64,
        tile_pad=10,
        tiles=4,
        precision="bf16",
        device="cpu",
        seconds=0.0001,
        input_size=(12, 16),
        output_size=(24, 32),
        macs=192 * 50_000,
        peak_memory_bytes=150 * 2**20,
        fp32_fallbacks=0,
    )
    return SimpleNamespace(**{**fields, **changes})


def _scripted_runner(calls):
    """Returns a nearest ×2 of its input and a fixed report: for tests of the display only."""

    def run(model, image, **kwargs):
        calls.append(kwargs)
        kwargs["progress"](4, 4)
        return SimpleNamespace(image=np.repeat(np.repeat(image, 2, 0), 2, 1), report=_report())

    return run


def test_controls_and_defaults(data_dir, isolated_model_dir):
    isolated_model_dir.mkdir()
    (isolated_model_dir / "my_model.pth").write_bytes(b"")
    tuner = UpscaleTuner(data_dir / "0014.jpg", executor=InlineExecutor())
    values = [value for _, value in tuner.model.options]
    assert values[: len(ZOO)] == [entry.name for entry in ZOO]
    assert str((isolated_model_dir / "my_model.pth").resolve()) in values
    assert tuner.model.value == DEFAULT_MODEL and tuner.outscale.value == 4.0
    assert [v for _, v in TILE_CHOICES][:3] == ["auto", "whole", 32] and tuner.tile.value == "auto"
    assert tuner.image.shape == (179, 179, 3) and "179×179 RGB uint8" in tuner.picker.info.value
    assert tuner.compare.before and tuner.compare.after == b""
    assert tuner.settings().engine_kwargs() == {
        "tile": "auto",
        "tile_pad": None,
        "outscale": 4.0,
        "precision": "auto",
        "tta": False,
        "backend": "auto",
    }
    tuner.tile.value, tuner.tile_pad.value, tuner.precision.value, tuner.tta.value = 128, 16, "bf16", True
    tuner.backend.value = "torch"
    assert tuner.settings().engine_kwargs() == {
        "tile": 128,
        "tile_pad": 16,
        "outscale": 4.0,
        "precision": "bf16",
        "tta": True,
        "backend": "torch",
    }
    assert tuner.cancel_button.disabled and tuner.save_button.disabled and not tuner.run_button.disabled


def test_model_choice_sets_outscale_and_accepts_a_loaded_model(tiny_model):
    tuner = UpscaleTuner(executor=InlineExecutor())
    tuner.set_model("realesrgan_x2plus.pth")  # case and suffix do not matter for zoo names
    assert tuner.model.value == "RealESRGAN_x2plus" and tuner.outscale.value == 2.0
    tuner.set_model(tiny_model)
    assert tuner.model.value.startswith("given model:") and tuner.load_selected_model() is tiny_model
    with pytest.raises(
        InvalidParameterError, match="zoo name, a weights file path or a loaded ModelDescriptor"
    ):
        tuner.set_model(3)  # pyright: ignore[reportArgumentType]  (the wrong type is the test)


def test_input_errors_show_in_the_widget(tmp_path):
    tuner = UpscaleTuner(executor=InlineExecutor())
    tuner.run_button.click()
    assert "no image yet" in tuner.error.value and tuner.state == "idle"
    with pytest.raises(InvalidParameterError, match="no image yet"):
        tuner.run()
    tuner.picker.load_button.click()
    assert "type the path of an image file first" in tuner.error.value
    tuner.picker.path.value = str(tmp_path / "missing.png")
    tuner.picker.load_button.click()
    assert "InvalidImageError" in tuner.error.value and "no such image file" in tuner.error.value
    tuner.save_path.value = "out.png"
    tuner.save_button.click()
    assert "no result to save yet" in tuner.error.value
    assert not any(tmp_path.iterdir())


def test_upload_sets_the_image_and_a_bad_upload_is_reported(data_dir):
    tuner = UpscaleTuner(executor=InlineExecutor())
    content = (data_dir / "children-alpha.png").read_bytes()
    upload = {
        "name": "kids.png",
        "type": "image/png",
        "size": len(content),
        "content": memoryview(content),
        "last_modified": dt.datetime.now(dt.timezone.utc),
    }
    tuner.picker.upload.value = (upload,)
    assert tuner.image.shape == (350, 566, 4) and "kids.png" in tuner.picker.info.value
    tuner.picker.upload.value = ({**upload, "name": "notes.txt", "content": memoryview(b"hello")},)
    assert "reading notes.txt failed" in tuner.error.value and "could not be decoded" in tuner.error.value
    assert tuner.image.shape == (350, 566, 4)  # the previous image stays


def test_kernel_stays_responsive_and_cancel_leaves_no_result(tiny_model, image):
    """A real background run, gated by events: the click returns at once, Cancel is honoured."""
    started, proceed = threading.Event(), threading.Event()
    runner_threads = []

    def gated_runner(model, img, *, progress, cancel, **kwargs):
        runner_threads.append(threading.get_ident())
        progress(1, 4)
        started.set()
        assert proceed.wait(WAIT)
        if cancel():  # as the engine does between tiles
            raise OperationCancelledError("cancelled between tiles")
        raise AssertionError("the test cancels before letting the run go on")

    tuner = UpscaleTuner(image, model=tiny_model, runner=gated_runner)  # default executor: a real thread
    try:
        tuner.run_button.click()  # returns while the run is blocked
        assert started.wait(WAIT)
        future = tuner.worker.future
        assert not future.done() and tuner.state == "running"
        assert 'data-state="running"' in tuner.status.value
        assert tuner.run_button.disabled and not tuner.cancel_button.disabled and tuner.picker.disabled
        assert (tuner.progress.value, tuner.progress.max, tuner.progress_label.value) == (1, 4, "1/4")
        with pytest.raises(InvalidParameterError, match="run is in progress"):
            tuner.set_image(image)
        tuner.cancel_button.click()
        assert tuner.cancel_button.disabled and "cancelling" in tuner.status.value
        proceed.set()
        outcome = future.result(timeout=WAIT)
        assert outcome.status == "cancelled"
        assert tuner.state == "cancelled" and "cancelled" in tuner.status.value
        assert tuner.result is None and tuner.compare.after == b"" and tuner.stats.value == ""
        assert tuner.error.value == "" and not tuner.run_button.disabled and tuner.save_button.disabled
        assert runner_threads and runner_threads[0] != threading.get_ident()
    finally:
        proceed.set()
        tuner.close()


def test_a_finished_run_shows_its_report_and_saves_only_on_request(tiny_model, image, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    tuner = UpscaleTuner(image, model=tiny_model, executor=InlineExecutor(), runner=_scripted_runner(calls))
    tuner.tile.value, tuner.outscale.value = 64, 2.0
    tuner.run_button.click()
    assert tuner.state == "done" and tuner.error.value == ""
    assert calls[0]["tile"] == 64 and calls[0]["outscale"] == 2.0 and callable(calls[0]["cancel"])
    assert tuner.result.shape == (24, 32, 3) and tuner.compare.after
    stats = tuner.stats.value
    # 192 input pixels × 50 000 MACs in 0.1 ms: 2·MACs/s = 192 GFLOP/s; 192 px / 0.1 ms = 1.92 MP/s
    assert ">0.1 ms<" in stats and "192.0 GFLOP/s effective · 1.92 input MP/s" in stats
    assert "150.0 MiB" in stats and "64 px, 4 tiles, pad 10" in stats and "16×12 → 32×24" in stats
    assert "GFLOP/s" in tuner.history.outputs[-1]["text"]
    assert not any(tmp_path.iterdir())  # nothing written until Save
    tuner.save_path.value = "out.png"
    tuner.save_button.click()
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), tuner.result)
    tuner.save_button.click()
    assert "OutputExistsError" in tuner.error.value
    tuner.overwrite.value = True
    tuner.save_button.click()
    assert tuner.error.value == "" and sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_an_engine_error_is_shown_with_its_type_and_message(tiny_model, image):
    def failing_runner(model, img, **kwargs):
        raise InvalidParameterError("tile must be at least 16 pixels, got 8; pick a larger tile")

    tuner = UpscaleTuner(image, model=tiny_model, executor=InlineExecutor(), runner=failing_runner)
    tuner.run_button.click()
    assert tuner.state == "failed"
    assert "upscaling failed — InvalidParameterError" in tuner.error.value
    assert "tile must be at least 16 pixels" in tuner.error.value and "Traceback" in tuner.error.value
    assert not tuner.run_button.disabled and tuner.cancel_button.disabled


def test_a_missing_model_file_is_reported(image, tmp_path):
    tuner = UpscaleTuner(
        image, model=str(tmp_path / "nope.pth"), executor=InlineExecutor(), runner=lambda *a, **k: None
    )
    tuner.run_button.click()
    assert "ModelNotFoundError" in tuner.error.value and "nope.pth" in tuner.error.value
