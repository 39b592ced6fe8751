"""The temporal stage in the video plumbing: chunks cut whatever the keyframes, warm-up before a
chunk, chunked / resumed / out-of-order runs equal to one pass, strength 0 equal to off, the
state reset at a cut, the option in the job key, and the same frames from the API, the CLI and
the nodes. (The method itself is tested in test_video_temporal_method.py.)"""

from __future__ import annotations

import logging
import pickle
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core.errors import InvalidParameterError, OperationCancelledError, ResumeMismatchError
from realesrgan_kit.core.load import save_safetensors
from realesrgan_kit.core.options import DEFAULT_TEMPORAL, TEMPORAL_WORDS, parse_temporal_choice
from realesrgan_kit.core.video import (
    assemble_chunks,
    iter_upscaled_frames,
    iter_video_frames,
    open_parts,
    plan_chunks,
    prepare_video_job,
    stabilize_frames,
    upscale_chunk,
    upscale_video,
)
from realesrgan_kit.core.video.frames import scan_packets
from realesrgan_kit.core.video.temporal import AUTO_SETTINGS
from support.clips import decoded, frame_times, hard_cut, make_clip, pan, sprite, static_scene
from support.tiny_models import tiny_video_model

FAST = {"preset": "ultrafast"}
FRAMES = 30
SINGLE_KEYFRAME = 10_000  # a GOP longer than any test clip: the first frame is the only keyframe


@pytest.fixture(scope="module")
def model():
    return tiny_video_model()


@pytest.fixture(scope="module")
def one_keyframe(tmp_path_factory):
    """30 frames of a pan with a sprite-free texture, one keyframe (as many anime encodes)."""
    path = tmp_path_factory.mktemp("clips") / "pan.mp4"
    return make_clip(path, frames=FRAMES, gop=SINGLE_KEYFRAME, content=pan(1), audio=False)


def _video_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(p.pts, p.dts, bytes(p)) for p in container.demux(stream) if p.size]


def _differs(a, b) -> bool:
    return any(not np.array_equal(x, y) for (_, x), (_, y) in zip(decoded(a), decoded(b), strict=True))


def test_the_vocabulary_is_one_list():
    from realesrgan_kit.core.video import temporal

    assert TEMPORAL_WORDS == temporal.TEMPORAL_WORDS
    assert DEFAULT_TEMPORAL == "off", "auto becomes the default only when the benchmark floors hold"
    assert parse_temporal_choice(" AUTO ") == "auto" and parse_temporal_choice("0.5") == 0.5
    assert parse_temporal_choice(None) == DEFAULT_TEMPORAL and parse_temporal_choice(1) == 1.0
    for bad in ("strong", 1.5, -0.1, True, float("nan"), ""):
        with pytest.raises(InvalidParameterError, match="'auto'.*'off'.*strength"):
            parse_temporal_choice(bad)


def test_a_ten_second_clip_with_one_keyframe_splits_into_chunks_of_at_most_four_seconds(tmp_path):
    clip = make_clip(tmp_path / "ten.mp4", frames=100, rate=10, gop=SINGLE_KEYFRAME, audio=False)
    scan = scan_packets(clip)
    assert len(scan.keyframes) == 1
    chunks = plan_chunks(clip, warmup_frames=3)  # the default chunk length
    assert len(chunks) >= 3 and max(c.frames for c in chunks) <= 40, "≤ 4 s at 10 fps"
    assert [c.start_frame for c in chunks[1:]] == [c.stop_frame for c in chunks[:-1]]
    assert chunks[0].start_frame == 0 and chunks[-1].stop_frame == 100
    assert all(c.seek_pts in (None, scan.keyframes[0]) for c in chunks), "decoded from the only keyframe"
    assert [c.warmup_frames for c in chunks] == [0] + [3] * (len(chunks) - 1)
    assert [c.frames_decoded_extra for c in chunks] == [c.start_frame for c in chunks]


def test_chunks_made_apart_equal_one_pass_with_temporal_on(tmp_path, one_keyframe, model):
    single = tmp_path / "single.mp4"
    report = upscale_video(model, one_keyframe, single, encoder_options=FAST, chunk_frames=8, temporal="auto")
    assert (
        report.chunks == 4
        and report.temporal is not None
        and report.temporal["window"] == AUTO_SETTINGS.window
    )
    assert report.warmup_frames == 0 and report.frames_decoded_extra == 0, "one pass: nothing extra"
    frame_wise = tmp_path / "framewise.mp4"
    upscale_video(model, one_keyframe, frame_wise, encoder_options=FAST, chunk_frames=8)
    assert _differs(single, frame_wise), "the stabiliser changed the frames"

    target = tmp_path / "apart.mp4"
    job = prepare_video_job(
        model, one_keyframe, target, encoder_options=FAST, chunk_frames=8, temporal="auto"
    )
    open_parts(job, resume=False, force=False)
    job = pickle.loads(pickle.dumps(job))  # as it travels to workers
    for chunk in reversed(job.chunks):  # independent workers, each warming up on its own
        upscale_chunk(model, job, chunk)
    assemble_chunks(job)
    assert _video_packets(target) == _video_packets(single)


def test_the_output_does_not_depend_on_the_chunk_length(tmp_path, one_keyframe, model):
    """Lossless output: the stabilised frames of 7-frame chunks equal those of one chunk."""
    whole, short = tmp_path / "whole.mkv", tmp_path / "short.mkv"
    upscale_video(model, one_keyframe, whole, codec="ffv1", chunk_frames=1000, temporal=0.7)
    upscale_video(model, one_keyframe, short, codec="ffv1", chunk_frames=7, temporal=0.7)
    assert not _differs(whole, short)


def test_cancel_then_resume_continues_from_the_last_finished_chunk_identically(tmp_path, one_keyframe, model):
    reference = tmp_path / "ref.mp4"
    upscale_video(model, one_keyframe, reference, encoder_options=FAST, chunk_frames=8, temporal="auto")
    out = tmp_path / "out.mp4"
    done = {"frames": 0}

    def count(progress) -> None:
        done["frames"] = progress.frames_done

    options: dict[str, Any] = dict(encoder_options=FAST, chunk_frames=8, temporal="auto")
    with pytest.raises(OperationCancelledError):  # inside the third chunk (frames 15..22)
        upscale_video(
            model, one_keyframe, out, progress=count, cancel=lambda: done["frames"] >= 18, **options
        )
    parts = out.with_name("out.mp4.parts")
    assert sorted(p.name for p in parts.glob("chunk-*")) == ["chunk-00000.pkts", "chunk-00001.pkts"]
    with pytest.raises(ResumeMismatchError, match="temporal"):
        upscale_video(
            model, one_keyframe, out, encoder_options=FAST, chunk_frames=8, temporal=0.5, resume=True
        )
    report = upscale_video(model, one_keyframe, out, resume=True, **options)
    assert report.chunks_reused == 2 and report.frames_upscaled == FRAMES - 15, "not from frame 0"
    assert report.warmup_frames == AUTO_SETTINGS.window, "the frames just before 15 warm the state, unwritten"
    assert report.frames_decoded_extra == 15, (
        "the only keyframe is frame 0: frames 0..14 decoded, not written"
    )
    assert _video_packets(out) == _video_packets(reference)


def test_strength_zero_is_off_bit_for_bit(tmp_path, one_keyframe, model):
    off, zero = tmp_path / "off.mp4", tmp_path / "zero.mp4"
    upscale_video(model, one_keyframe, off, encoder_options=FAST, chunk_frames=8, temporal="off")
    report = upscale_video(model, one_keyframe, zero, encoder_options=FAST, chunk_frames=8, temporal=0)
    assert report.temporal is None
    assert off.read_bytes() == zero.read_bytes()
    job_off = prepare_video_job(model, one_keyframe, tmp_path / "a.mp4", temporal="off")
    job_zero = prepare_video_job(model, one_keyframe, tmp_path / "a.mp4", temporal="0.0")
    assert job_off.key == job_zero.key, "a resume may switch between the two spellings"
    frames = [f.image for f in iter_video_frames(one_keyframe, stop=6)]
    a = list(iter_upscaled_frames(model, frames, temporal="off"))
    b = list(iter_upscaled_frames(model, frames, temporal=0.0))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_state_restarts_at_a_hard_cut(tmp_path, model):
    clip = make_clip(tmp_path / "cut.mp4", frames=12, gop=SINGLE_KEYFRAME, content=hard_cut(6), audio=False)
    frames = [f.image for f in iter_video_frames(clip)]
    plain = list(iter_upscaled_frames(model, frames, temporal="off"))
    stable = list(iter_upscaled_frames(model, frames, temporal="auto"))
    assert np.array_equal(stable[0], plain[0]), "nothing to average the first frame with"
    assert np.array_equal(stable[6], plain[6]), "the first frame after the cut is the frame-wise one"
    assert not np.array_equal(stable[7], plain[7]), "and the new scene is stabilised after it"


def test_iter_upscaled_frames_stabilises_against_the_input_frames(tmp_path, model):
    clip = make_clip(tmp_path / "sprite.mp4", frames=8, content=sprite(), audio=False)
    frames = [f.image for f in iter_video_frames(clip)]
    plain = list(iter_upscaled_frames(model, frames))
    stable = list(iter_upscaled_frames(model, frames, temporal="auto"))
    expected = list(stabilize_frames(frames, plain, "auto"))
    assert all(np.array_equal(x, y) for x, y in zip(stable, expected, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(stable, plain, strict=True))
    gray = [f[:, :, 0] for f in frames]  # 2-D frames come back 2-D
    assert list(iter_upscaled_frames(model, gray[:3], temporal="auto"))[2].shape == (48, 64)


def test_a_variable_frame_rate_clip_keeps_its_times_and_chunks_equal_one_pass(tmp_path, model):
    stamps = [0, 10, 25, 30, 70, 80, 81, 90, 120, 200, 210, 260]
    src = make_clip(
        tmp_path / "vfr.mp4",
        pts=stamps,
        time_base=Fraction(1, 100),
        gop=SINGLE_KEYFRAME,
        content=static_scene(),
    )
    single = tmp_path / "single.mp4"
    upscale_video(model, src, single, encoder_options=FAST, chunk_frames=3, temporal="auto")
    assert frame_times(single) == [Fraction(s, 100) for s in stamps]
    target = tmp_path / "apart.mp4"
    job = prepare_video_job(model, src, target, encoder_options=FAST, chunk_frames=3, temporal="auto")
    open_parts(job, resume=False, force=False)
    for chunk in reversed(job.chunks):
        upscale_chunk(model, job, chunk)
    assemble_chunks(job)
    assert _video_packets(target) == _video_packets(single)


def test_cli_api_and_video_node_give_the_same_frames(tmp_path, one_keyframe, model, caplog):
    from realesrgan_kit.nodes import definitions, v3
    from support.comfy_env import comfy_env

    weights = tmp_path / "tiny.safetensors"
    save_safetensors(model, weights)
    api = tmp_path / "api.mkv"
    upscale_video(str(weights), one_keyframe, api, codec="ffv1", precision="fp32", temporal="auto")
    cli = tmp_path / "cli.mkv"
    args = [
        "upscale",
        str(one_keyframe),
        "-o",
        str(cli),
        "--model",
        str(weights),
        "--codec",
        "ffv1",
        "--precision",
        "fp32",
    ]
    caplog.set_level(logging.INFO)
    assert main([*args, "--temporal", "auto"]) == 0
    summary = [r.getMessage() for r in caplog.records if "cli.mkv:" in r.getMessage()]
    assert summary and "temporal strength 1, window" in summary[0], summary
    assert "extra decode: 0 frames decoded and not written" in summary[0], "one pass: nothing extra"
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        from comfy_api.input_impl import VideoFromFile

        node = v3.build_v3_class(definitions.node_by_id("RealESRGANKitUpscaleVideo"), env.io)
        (_, path, report), _ = env.execution.run_node(
            node,
            model=model,
            file="none",
            resize_mode="model scale",
            outscale=2.0,
            width=0,
            height=0,
            tile="auto",
            tile_pad=0,
            precision="fp32",
            tta=False,
            container="mkv",
            codec="ffv1",
            crf=-1,
            filename_prefix="video/RealESRGAN",
            video=VideoFromFile(str(one_keyframe)),
            temporal="auto",
        )
    assert "temporal strength 1" in report
    reference = decoded(api)
    for other in (cli, path):
        got = decoded(other)
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(reference, got, strict=True))


def test_cli_refuses_temporal_for_images_only_and_bad_values(tmp_path, capsys):
    import cv2

    image = tmp_path / "still.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    code = main(["upscale", str(image), "-o", str(tmp_path / "out.png"), "--temporal", "auto"])
    assert code == 1 and "no input is a video" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(SystemExit) as usage:
        main(["upscale", str(image), "-o", str(tmp_path / "out.png"), "--temporal", "lots"])
    assert usage.value.code == 2 and "--temporal must be" in capsys.readouterr().err


def test_the_image_node_stabilises_a_clip_batch_only_when_asked(tmp_path, one_keyframe, model):
    import torch

    from realesrgan_kit.nodes import definitions, v3
    from support.comfy_env import comfy_env

    clip = [f.image for f in iter_video_frames(one_keyframe, stop=8)]
    batch = torch.from_numpy(np.stack(clip).astype(np.float32) / 255.0)
    widgets = dict(
        resize_mode="model scale",
        outscale=2.0,
        width=0,
        height=0,
        tile="auto",
        tile_pad=0,
        precision="fp32",
        tta=False,
        alpha_mode="model",
    )
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        node = v3.build_v3_class(definitions.node_by_id("RealESRGANKitUpscale"), env.io)
        (default, _), _ = env.execution.run_node(node, image=batch, model=model, **widgets)
        (off, _), _ = env.execution.run_node(node, image=batch, model=model, temporal="off", **widgets)
        (auto, _), _ = env.execution.run_node(node, image=batch, model=model, temporal="auto", **widgets)
    assert torch.equal(default, off), "a batch is left alone unless temporal is asked for"
    frames = [batch[i].numpy() for i in range(len(clip))]
    expected = list(stabilize_frames(frames, [off[i].numpy().copy() for i in range(len(clip))], "auto"))
    assert all(np.array_equal(auto[i].numpy(), e) for i, e in enumerate(expected))
    assert torch.equal(auto[0], off[0]) and not torch.equal(auto, off)
    api = list(iter_upscaled_frames(model, frames, precision="fp32", temporal="auto"))
    assert all(np.array_equal(auto[i].numpy(), a) for i, a in enumerate(api)), "the node = the API"
