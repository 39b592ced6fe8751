"""``realesrgan-kit upscale`` with videos: recognised by content, mixed folders, errors, ranges."""

from __future__ import annotations

import cv2
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core.load import build_descriptor, save_safetensors
from realesrgan_kit.core.video import probe_video
from support.clips import decoded, frame_image, frame_times, make_clip
from support.tiny_models import tiny_srvgg

FAST = ["--preset", "ultrafast"]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg(upscale=2, num_feat=4, num_conv=2).state_dict()), path)
    return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=10)


def test_a_clip_with_a_frame_range(tmp_path, clip, tiny_weights, capsys):
    out = tmp_path / "clip_x2.mp4"
    args = [
        "upscale",
        str(clip),
        "-o",
        str(out),
        "--model",
        tiny_weights,
        "--outscale",
        "2",
        "--frames",
        "2:8",
    ]
    assert main(args + FAST) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(frame_times(out)) == 6 and probe_video(out).width == 64


def test_a_folder_mixing_images_and_a_video_named_like_anything(tmp_path, clip, tiny_weights):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "still.png"), frame_image(1, 10, 12))
    (folder / "footage.bin").write_bytes(clip.read_bytes())  # a video, whatever its name
    (folder / "notes.txt").write_text("neither")
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights, *FAST]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["footage.mp4", "still.png"]
    assert len(decoded(out / "footage.mp4")) == 10
    assert cv2.imread(str(out / "still.png")).shape == (20, 24, 3)


def test_errors_exit_non_zero_with_the_reason(tmp_path, clip, tiny_weights, capsys):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"x")
    assert main(["upscale", str(clip), "-o", str(out), "--model", tiny_weights]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    assert main(["upscale", str(fake), "-o", str(tmp_path / "o.mp4"), "--model", tiny_weights]) == 1
    assert "fake.mp4 is not a video FFmpeg can read" in capsys.readouterr().err
    assert (
        main(["upscale", str(clip), "-o", str(tmp_path / "c.mp4"), "--model", tiny_weights, "--crf", "99"])
        == 1
    )
    assert "crf must be a whole number 0..63" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4", "fake.mp4"]


def test_progress_bar_shows_frames_per_second_and_time_left():
    import io

    from realesrgan_kit.cli.video_options import VideoProgressBar
    from realesrgan_kit.core.video import VideoProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = VideoProgressBar("clip.mp4", stream=screen)
    bar(VideoProgress(frames_done=30, frames_total=120, fps=2.5, eta_seconds=3725))
    bar(VideoProgress(frames_done=120, frames_total=120, fps=2.5, eta_seconds=0))
    bar.close()
    text = screen.getvalue()
    assert "30/120 frames  2.50 fps ETA 1:02:05" in text and "120/120" in text and text.endswith("\n")
    quiet = io.StringIO()  # not a terminal: nothing
    VideoProgressBar("clip.mp4", stream=quiet)(VideoProgress(1, 2, 1.0, 1.0))
    assert quiet.getvalue() == ""
