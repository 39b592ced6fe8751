"""Video bad input and interruptions: typed errors naming the file and what to do; nothing
partial at the target after a failure, a refused resume or ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest

from realesrgan_kit.core.errors import (
    CorruptVideoError,
    InvalidVideoError,
    OutputExistsError,
    ResumeMismatchError,
    UnsupportedCodecError,
    UnsupportedPixelFormatError,
)
from realesrgan_kit.core.video import probe_video, upscale_video
from support.clips import decoded, make_clip, packets
from support.tiny_models import tiny_video_model

FAST = {"preset": "ultrafast"}


@pytest.fixture(scope="module")
def model():
    return tiny_video_model()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mkv", frames=12)


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_truncated_file_names_the_frame_and_leaves_nothing(tmp_path, model):
    src = make_clip(tmp_path / "long.mkv", frames=40, width=64, height=48, audio=False)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptVideoError, match=r"cut\.mkv.*truncated.*frame \d+.*--frames 0:\d+"):
        upscale_video(model, cut, tmp_path / "out.mp4", encoder_options=FAST)
    assert _leftovers(tmp_path, {"long.mkv", "cut.mkv"}) == []


def test_garbage_and_audio_only_files_are_not_videos(tmp_path, model):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(InvalidVideoError, match=r"garbage\.mp4 is not a video"):
        probe_video(garbage)
    audio = tmp_path / "tone.m4a"
    with av.open(str(audio), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    with pytest.raises(InvalidVideoError, match=r"tone\.m4a has no video stream \(it holds: audio\)"):
        upscale_video(model, audio, tmp_path / "out.mp4")
    assert _leftovers(tmp_path, {"garbage.mp4", "tone.m4a"}) == []


def test_unknown_codec_and_unencodable_pixel_format_are_refused_up_front(tmp_path, clip, model):
    with pytest.raises(UnsupportedCodecError, match="cannot encode video with 'h266'.*available:.*libx264"):
        upscale_video(model, clip, tmp_path / "a.mp4", codec="h266")
    with pytest.raises(UnsupportedPixelFormatError, match="libx264 cannot take pixel format 'rgb565le'"):
        upscale_video(model, clip, tmp_path / "b.mp4", pix_fmt="rgb565le")
    assert list(tmp_path.iterdir()) == []


def test_existing_target_needs_force(tmp_path, clip, model):
    target = tmp_path / "exists.mp4"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match=r"exists\.mp4 exists; pass --force"):
        upscale_video(model, clip, target, encoder_options=FAST)
    assert target.read_bytes() == b"keep me"
    upscale_video(model, clip, target, encoder_options=FAST, force=True)
    assert len(decoded(target)) == 12


def test_resume_with_other_options_is_refused_and_leftover_chunks_need_resume_or_force(tmp_path, clip, model):
    out = tmp_path / "out.mp4"
    calls = {"n": 0}

    def cancel_after_five() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Exception, match="cancelled"):
        upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4, cancel=cancel_after_five)
    with pytest.raises(
        ResumeMismatchError, match=r"crf: 18 → 30.*same options.*without --resume and with --force"
    ):
        upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4, crf=30, resume=True)
    with pytest.raises(OutputExistsError, match="--resume.*--force"):
        upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4)
    assert not out.exists()
    upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4, crf=30, force=True)
    assert len(decoded(out)) == 12


_CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from realesrgan_kit.core.video import upscale_video
    from support.tiny_models import tiny_video_model

    model = tiny_video_model()
    marker = Path({marker!r})
    parts = Path({target!r} + ".parts")

    def hold_in_third_chunk(progress):
        # once two chunks are finished and the third is under way, say so and wait to be killed
        if progress.frames_done >= 10 and len(list(parts.glob("chunk-*.pkts"))) >= 2:
            marker.write_text("ready")
            threading.Event().wait()

    upscale_video(model, {src!r}, {target!r}, encoder_options={{"preset": "ultrafast"}}, chunk_frames=4,
                  progress=hold_in_third_chunk)
    """
)


def test_kill_9_mid_job_leaves_no_target_and_resume_matches_an_uninterrupted_run(
    tmp_path, model, subprocess_env
):
    src = make_clip(tmp_path / "src.mp4", frames=16, gop=4)
    reference = tmp_path / "reference.mp4"
    upscale_video(model, src, reference, encoder_options=FAST, chunk_frames=4)
    target = tmp_path / "killed.mp4"
    marker = tmp_path / "ready"
    script = _CHILD.format(
        tests=str(Path(__file__).parent), marker=str(marker), target=str(target), src=str(src)
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=subprocess_env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, f"the job ended (exit {child.returncode}) before it could be killed"
            assert time.monotonic() < deadline, "the job never reached its third chunk"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert not target.exists(), "kill -9 left a file at the target name"
    parts = Path(str(target) + ".parts")
    assert {"chunk-00000.pkts", "chunk-00001.pkts"} <= {p.name for p in parts.iterdir()}
    report = upscale_video(model, src, target, encoder_options=FAST, chunk_frames=4, resume=True)
    assert report.chunks_reused >= 2 and report.frames_upscaled <= 8
    ref, got = decoded(reference), decoded(target)
    assert [t for t, _ in got] == [t for t, _ in ref]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ref, got, strict=True))
    assert packets(target, "audio") == packets(src, "audio")
    assert not parts.exists()
