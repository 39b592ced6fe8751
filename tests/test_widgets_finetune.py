"""FineTuner widget: start, live curves and validation crop, stop, resume, export (tiny model, inline)."""

from __future__ import annotations

import pytest
import torch

from realesrgan_kit.core.errors import InvalidParameterError, OutputExistsError
from realesrgan_kit.core.imagefile.arrays import read_image, write_image
from realesrgan_kit.core.load import build_descriptor, load_model, save_safetensors
from realesrgan_kit.core.train import TrainSettings
from realesrgan_kit.widgets import FineTuner, InlineExecutor
from realesrgan_kit.widgets.finetune import loss_curves_svg
from support.tiny_models import tiny_srvgg


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def setup(tmp_path, isolated_model_dir, data_dir):
    hr = tmp_path / "hr"
    write_image(hr / "a.png", read_image(data_dir / "gt" / "comic.png")[:48, :48])
    weights = isolated_model_dir / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), weights)
    settings = TrainSettings(batch_size=2, patch_size=32, pool_size=0, precision="fp32", checkpoint_every=2)
    tuner = FineTuner(
        hr,
        model=str(weights.resolve()),
        run_dir=tmp_path / "run",
        settings=settings,
        executor=InlineExecutor(),
    )
    tuner.iterations.value, tuner.val_every.value = 3, 1
    return tuner, tmp_path


def test_start_trains_shows_curves_and_crops_then_exports(setup):
    tuner, tmp_path = setup
    assert tuner.model.value.endswith("tiny.safetensors") and tuner.stop_button.disabled
    assert tuner.gt_target.value == "sharpened" and tuner.settings().l1_gt_usm  # the official default
    tuner.gt_target.value = "plain"
    assert not tuner.settings().l1_gt_usm and not tuner.settings().perceptual_gt_usm
    tuner.start()
    assert tuner.state == "done" and tuner.result.iteration == 3
    assert 'data-points="3"' in tuner.curves.value and "l1" in tuner.curves.value
    assert bytes(tuner.preview.value).startswith(b"\x89PNG") and "PSNR" in tuner.psnr.value
    assert [v.iteration for v in tuner.validations] == [0, 1, 2, 3]
    assert tuner.progress.value == 3 and not tuner.export_button.disabled
    tuner.export_path.value = str(tmp_path / "mine.safetensors")
    tuner.export_button.click()
    assert load_model(tmp_path / "mine.safetensors").architecture == "SRVGGNetCompact"
    with pytest.raises(OutputExistsError):
        tuner.export()


def test_stop_keeps_a_checkpoint_and_resume_continues(setup):
    tuner, _ = setup
    shown = tuner._on_train_progress

    def stop_after_first(progress):
        shown(progress)
        if progress.iteration == 1:
            tuner.stop()

    tuner._on_train_progress = stop_after_first
    tuner.start()
    assert tuner.state == "cancelled" and tuner.result.stopped and tuner.result.iteration == 1
    assert "tick &#x27;resume&#x27;" in tuner.status.value
    tuner._on_train_progress = shown
    tuner.resume.value = True
    tuner.start()
    assert tuner.state == "done" and tuner.result.iteration == 3


def test_bad_input_shows_in_the_widget(setup, tmp_path):
    tuner, _ = setup
    tuner.pairs.value = str(tmp_path)
    with pytest.raises(InvalidParameterError, match="either the HR folder or the pairs folder"):
        tuner.start()
    tuner.pairs.value = ""
    tuner.hr_folder.value = str(tmp_path / "missing")
    tuner.start()
    assert tuner.state == "failed" and "InvalidDatasetError" in tuner.error.value
    assert not tuner.start_button.disabled


def test_loss_curves_scale_each_loss_and_show_the_last_value():
    svg = loss_curves_svg([{"iteration": 1, "l1": 0.5, "gan": 2.0}, {"iteration": 2, "l1": 0.25, "gan": 1.0}])
    assert svg.count("<polyline") == 2 and "l1 0.25" in svg and "gan 1" in svg
    assert "<polyline" not in loss_curves_svg([])
