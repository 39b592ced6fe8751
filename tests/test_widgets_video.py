"""VideoTuner, headless: scrub a generated clip, tune on a frame with the embedded tuner, run the
whole clip (real core.video with a tiny model), compare frames, play it; cancel and errors are
shown in the widget."""

from __future__ import annotations

import numpy as np
import pytest

from realesrgan_kit.core.load import load_model
from realesrgan_kit.core.video import read_video_frame, upscale_video
from realesrgan_kit.widgets import VideoTuner
from realesrgan_kit.widgets.worker import InlineExecutor
from support.clips import frame_times, make_clip
from support.tiny_models import tiny_srvgg

FRAMES = 12


@pytest.fixture(scope="module")
def tiny_model():
    return load_model(tiny_srvgg(upscale=2).state_dict())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=FRAMES, width=32, height=24, gop=4)


def _tuner(clip, model, **kwargs):
    return VideoTuner(clip, model=model, executor=InlineExecutor(), **kwargs)


def test_scrub_to_a_frame_and_tune_on_it(clip, tiny_model, tmp_path):
    tuner = _tuner(clip, tiny_model)
    assert tuner.frame.max == FRAMES - 1
    assert "32×24" in tuner.details.value and "audio" in tuner.details.value
    assert tuner.output.value.endswith("clip_x2.mp4")
    tuner.frame.value = 5  # what the slider does
    expected = read_video_frame(clip, 5).image
    np.testing.assert_array_equal(tuner.tuner.image, expected)
    assert "(frame 5 at 0.208 s)" in tuner.tuner.picker.info.value  # 24 fps
    outcome = tuner.tuner.run().result()
    assert outcome.status == "done" and tuner.tuner.result.shape == (48, 64, 3)


def test_the_whole_clip_then_compare_and_play(clip, tiny_model, tmp_path):
    target = tmp_path / "out.mp4"
    tuner = _tuner(clip, tiny_model, output=target)
    tuner.frame.value = 3
    outcome = tuner.run_clip().result()
    assert outcome.status == "done", tuner.error.value
    assert tuner.state == "done" and tuner.result_path == target
    assert len(frame_times(target)) == FRAMES
    assert tuner.progress.value == tuner.progress.max == FRAMES
    assert tuner.progress_label.value.startswith(f"{FRAMES}/{FRAMES}")
    # The before/after view opens on the frame that was being tuned.
    assert not tuner.compare_frame.disabled and tuner.compare_frame.value == 3
    np.testing.assert_array_equal(tuner.compare.shown_before, read_video_frame(clip, 3).image)
    assert tuner.compare.shown_after.shape[:2] == (48, 64)
    tuner.compare_frame.value = 9
    np.testing.assert_array_equal(tuner.compare.shown_after, read_video_frame(target, 9).image)
    assert tuner.player.value == target.read_bytes() and tuner.player.format == "mp4"
    assert "frames/s" in tuner.stats.value


def test_cancel_leaves_no_file_and_says_so(clip, tiny_model, tmp_path):
    target = tmp_path / "cancelled.mp4"
    holder = {}

    def cancelling_runner(model, source, dst, *, progress, cancel, **options):
        def report(update):
            progress(update)
            if update.frames_done == 2:
                holder["tuner"].cancel()  # what the Cancel button does, mid-clip

        return upscale_video(model, source, dst, progress=report, cancel=cancel, **options)

    tuner = _tuner(clip, tiny_model, output=target, video_runner=cancelling_runner)
    holder["tuner"] = tuner
    outcome = tuner.run_clip().result()
    assert outcome.status == "cancelled" and tuner.state == "cancelled"
    assert not target.exists() and tuner.result_path is None
    assert "resume" in tuner.status.value
    assert not tuner.run_button.disabled and tuner.cancel_button.disabled


def test_errors_are_shown_in_the_widget(tmp_path, tiny_model, clip):
    tuner = VideoTuner(model=tiny_model, executor=InlineExecutor())
    tuner.run_button.click()
    assert "no clip yet" in tuner.error.value
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("hello")
    tuner.path.value = str(not_a_video)
    tuner.load_button.click()
    assert "notes.mp4" in tuner.error.value and "Error" in tuner.error.value
    tuner.path.value = str(clip)
    tuner.load_button.click()
    assert tuner.error.value == "" and tuner.frame.max == FRAMES - 1
    target = tmp_path / "exists.mp4"
    target.write_bytes(b"keep me")
    tuner.output.value = str(target)
    outcome = tuner.run_clip().result()
    assert outcome.status == "failed" and "exists" in tuner.error.value
    assert target.read_bytes() == b"keep me", "an existing file is never replaced without 'overwrite'"


def test_the_output_name_follows_the_outscale_until_typed(clip, tiny_model):
    tuner = _tuner(clip, tiny_model)
    tuner.tuner.outscale.value = 1.5
    assert tuner.output.value.endswith("clip_x1.5.mp4")
    tuner.output.value = "mine.mp4"
    tuner.tuner.outscale.value = 3.0
    assert tuner.output.value == "mine.mp4"


def test_a_real_worker_thread_runs_the_clip(clip, tiny_model, tmp_path):
    tuner = VideoTuner(clip, model=tiny_model, output=tmp_path / "threaded.mp4")
    try:
        future = tuner.run_clip()  # returns at once; the clip runs on the worker thread
        outcome = future.result(timeout=120)
        assert outcome.status == "done" and (tmp_path / "threaded.mp4").is_file()
    finally:
        tuner.close()


def test_the_temporal_control_reaches_the_clip_run_and_its_report(clip, tiny_model, tmp_path):
    target = tmp_path / "steady.mp4"
    tuner = _tuner(clip, tiny_model, output=target)
    assert tuner.temporal.value == "off" and list(tuner.temporal.options) == ["auto", "off"]
    tuner.temporal.value = "0.5"  # typed: a strength
    outcome = tuner.run_clip().result()
    assert outcome.status == "done", tuner.error.value
    assert tuner.report.temporal["strength"] == 0.5
    assert "strength 0.5" in tuner.stats.value
    tuner.temporal.value = "lots"
    tuner.run_button.click()
    assert "temporal must be" in tuner.error.value


def test_the_temporal_profile_shows_both_outputs_and_their_flicker(clip, tiny_model):
    tuner = _tuner(clip, tiny_model)
    tuner.frame.value = 4
    outcome = tuner.show_temporal_profile().result()
    assert outcome.status == "done", tuner.error.value
    preview = tuner.preview
    assert preview.frames == (4, 4 + 8), "from the chosen frame to the clip's end (at most 24 frames)"
    assert preview.frame_wise.shape == preview.stabilised.shape == (8, 64, 3)
    assert str(preview.temporal) == "auto", "'off' in the control previews auto"
    assert tuner.profile.shown_before.shape[:2] == (32, 64), "4 rows per frame"
    assert (
        "frame-wise" in tuner.profile_note.value
        and f"{preview.error_stabilised:.3f}" in tuner.profile_note.value
    )
