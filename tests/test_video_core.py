"""Video core: probing, decoding, the streaming job, kept streams and timestamps, chunks, resume."""

from __future__ import annotations

import pickle
from fractions import Fraction

import av
import numpy as np
import pytest

from realesrgan_kit.core.engine import prepare_frame_upscaler, run_upscale
from realesrgan_kit.core.errors import OperationCancelledError
from realesrgan_kit.core.video import (
    assemble_chunks,
    is_video_file,
    iter_upscaled_frames,
    iter_video_frames,
    open_parts,
    plan_chunks,
    prepare_video_job,
    probe_video,
    read_video_frame,
    upscale_chunk,
    upscale_video,
)
from support.clips import decoded, frame_image, frame_times, make_clip, packets
from support.tiny_models import tiny_video_model

FAST = {"preset": "ultrafast"}


@pytest.fixture(scope="module")
def model():
    return tiny_video_model()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """12 frames, 32×24, 24 fps, keyframe every 4, a tone track, rotated 90°."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=12, rotation=90)


def test_probe_reads_the_stream_facts(clip):
    info = probe_video(clip)
    assert (info.width, info.height, info.frames, info.fps) == (32, 24, 12, Fraction(24))
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8 and info.codec == "h264"
    assert info.rotation == 90 and info.display_matrix is not None
    assert [s.kind for s in info.streams] == ["video", "audio"]


def test_is_video_file_sniffs_content_not_suffix(tmp_path, clip):
    disguised = tmp_path / "holiday.png"
    disguised.write_bytes(clip.read_bytes())
    assert is_video_file(disguised)
    still = tmp_path / "still.mp4"
    import cv2

    cv2.imwrite(str(tmp_path / "s.png"), frame_image(0, 8, 8))
    still.write_bytes((tmp_path / "s.png").read_bytes())
    assert not is_video_file(still), "a PNG named .mp4 is an image"
    from PIL import Image

    stills = [Image.fromarray(frame_image(i, 8, 8)) for i in range(3)]
    stills[0].save(tmp_path / "one.gif")
    stills[0].save(tmp_path / "anim.gif", save_all=True, append_images=stills[1:], duration=100)
    assert not is_video_file(tmp_path / "one.gif") and is_video_file(tmp_path / "anim.gif")
    text = tmp_path / "notes.mkv"
    text.write_text("not a video")
    assert not is_video_file(text)
    assert not is_video_file(tmp_path / "missing.mp4")


def test_frames_are_rgb_in_presentation_order_and_seekable(clip):
    frames = list(iter_video_frames(clip))
    assert [f.index for f in frames] == list(range(12))
    assert all(f.pts is not None for f in frames)
    assert [Fraction(f.pts or 0) * Fraction(f.time_base) for f in frames] == frame_times(clip)
    levels = [float(f.image[:, :, 0].mean()) for f in frames]
    expected = [float(frame_image(i, 24, 32)[:, :, 0].mean()) for i in range(12)]
    assert np.allclose(levels, expected, atol=4)
    middle = read_video_frame(clip, 6)  # not a keyframe: decoded from frame 4
    assert middle.index == 6 and np.array_equal(middle.image, frames[6].image)
    assert [f.index for f in iter_video_frames(clip, start=5, stop=9)] == [5, 6, 7, 8]


def test_chunks_are_cut_whatever_the_keyframes_and_cover_every_frame(clip):
    chunks = plan_chunks(clip, chunk_frames=3)  # keyframes every 4 frames: cuts at 3, 6, 9 anyway
    assert [(c.start_frame, c.stop_frame) for c in chunks] == [(0, 3), (3, 6), (6, 9), (9, 12)]
    assert chunks[0].seek_pts is None
    assert [c.seek_frame for c in chunks] == [0, 0, 4, 8], "each decodes from the keyframe before it"
    assert [c.frames_decoded_extra for c in chunks] == [0, 3, 2, 1]
    ranged = plan_chunks(clip, frames="5:11", chunk_frames=3)
    assert [(c.start_frame, c.stop_frame) for c in ranged] == [(5, 8), (8, 11)]
    seek, start = ranged[0].seek_pts, ranged[0].start_pts
    assert seek is not None and start is not None
    assert seek < start, "a range start decodes from the keyframe before it"
    warm = plan_chunks(clip, frames="5:11", chunk_frames=3, warmup_frames=2)
    assert [c.warmup_frames for c in warm] == [0, 2], "no warm-up before the range's first frame"
    assert warm[1].seek_frame == 4 and warm[1].frames_decoded_extra == 4


def test_upscale_video_keeps_frames_timestamps_audio_and_rotation(tmp_path, clip, model):
    out = tmp_path / "big.mp4"
    seen = []
    report = upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4, progress=seen.append)
    got = decoded(out)
    assert len(got) == 12 and report.frames == 12 and report.chunks == 3
    assert [t for t, _ in got] == frame_times(clip)
    assert got[0][1].shape == (48, 64, 3)
    assert packets(out, "audio") == packets(clip, "audio"), "audio packets copied byte for byte"
    assert probe_video(out).rotation == 90
    assert seen[-1].frames_done == 12 and seen[-1].frames_total == 12 and seen[-1].fps > 0
    assert not out.with_name("big.mp4.parts").exists(), "chunks are removed after assembly"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mp4"]


def test_variable_frame_rate_stays_variable(tmp_path, model):
    stamps = [0, 10, 25, 30, 70, 80, 81, 90, 120, 200]
    src = make_clip(tmp_path / "vfr.mp4", pts=stamps, time_base=Fraction(1, 100), gop=3)
    out = tmp_path / "vfr_big.mp4"
    upscale_video(model, src, out, encoder_options=FAST, chunk_frames=2)
    assert frame_times(out) == [Fraction(s, 100) for s in stamps]
    assert packets(out, "audio") == packets(src, "audio")


def test_ten_bit_goes_through_the_16_bit_path_and_stays_ten_bit(tmp_path, model):
    src = make_clip(tmp_path / "deep.mkv", codec="libx265", pix_fmt="yuv420p10le", frames=6, audio=False)
    first = next(iter(iter_video_frames(src)))
    assert first.image.dtype == np.uint16
    out = tmp_path / "deep_big.mkv"
    report = upscale_video(model, src, out, codec="libx265", encoder_options=FAST)
    assert report.pix_fmt == "yuv420p10le"
    info = probe_video(out)
    assert info.bit_depth == 10 and (info.width, info.height) == (64, 48)
    assert next(iter(iter_video_frames(out))).image.dtype == np.uint16


def test_subtitles_chapters_and_metadata_are_kept(tmp_path, model):
    src = make_clip(
        tmp_path / "rich.mkv", frames=8, subtitles=True, chapters=True, metadata={"title": "Rich clip"}
    )
    out = tmp_path / "rich_big.mkv"
    report = upscale_video(model, src, out, encoder_options=FAST)
    assert [p for _, p in packets(out, "subtitle")] == [b"Hello", b"World"]
    assert len(report.copied_streams) == 2 and report.chapters == 2
    with av.open(str(out)) as container:
        assert container.metadata.get("title") == "Rich clip"
        assert [c["metadata"]["title"] for c in container.chapters()] == ["One", "Two"]


def test_frame_range_writes_only_those_frames_from_time_zero(tmp_path, clip, model):
    out = tmp_path / "part.mp4"
    report = upscale_video(model, clip, out, frames="5:10", encoder_options=FAST)
    assert report.frames == 5
    assert frame_times(out) == [Fraction(i, 24) for i in range(5)]
    levels = [float(img[:, :, 0].mean()) for _, img in decoded(out)]
    expected = [float(frame_image(i, 24, 32)[:, :, 0].mean()) for i in range(5, 10)]
    assert np.allclose(levels, expected, atol=6), "frames 5..9, not 0..4"
    audio = packets(out, "audio")
    assert audio and all(t is not None and t < Fraction(5, 24) + Fraction(1, 8) for t, _ in audio)


def test_odd_sizes_are_rounded_for_the_pixel_format_and_reported(tmp_path, clip, model):
    out = tmp_path / "odd.mp4"
    report = upscale_video(model, clip, out, width=51, encoder_options=FAST)
    assert report.requested_size == (51, 38) and report.output_size == (50, 38)
    assert probe_video(out).width == 50


def test_cancel_keeps_finished_chunks_and_resume_completes_identically(tmp_path, clip, model):
    reference = tmp_path / "ref.mp4"
    upscale_video(model, clip, reference, encoder_options=FAST, chunk_frames=4)
    out = tmp_path / "out.mp4"
    done = {"frames": 0}

    def count(progress) -> None:
        done["frames"] = progress.frames_done

    with pytest.raises(OperationCancelledError):  # cancelled inside the third chunk (frames 8..11)
        upscale_video(
            model,
            clip,
            out,
            encoder_options=FAST,
            chunk_frames=4,
            progress=count,
            cancel=lambda: done["frames"] >= 9,
        )
    assert not out.exists()
    parts = out.with_name("out.mp4.parts")
    assert sorted(p.name for p in parts.iterdir()) == [
        "chunk-00000.pkts",
        "chunk-00001.pkts",
        "manifest.json",
    ]
    report = upscale_video(model, clip, out, encoder_options=FAST, chunk_frames=4, resume=True)
    assert report.chunks_reused == 2 and report.frames_upscaled == 4
    ref, got = decoded(reference), decoded(out)
    assert [t for t, _ in got] == [t for t, _ in ref]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(ref, got, strict=True))


def test_chunks_made_out_of_order_assemble_into_the_single_process_file(tmp_path, clip, model):
    single = tmp_path / "single.mp4"
    upscale_video(model, clip, single, encoder_options=FAST, chunk_frames=4)
    target = tmp_path / "distributed.mp4"
    job = prepare_video_job(model, clip, target, encoder_options=FAST, chunk_frames=4)
    open_parts(job, resume=False, force=False)
    job = pickle.loads(pickle.dumps(job))  # as it travels to workers
    for chunk in reversed(job.chunks):  # as independent workers would finish them
        upscale_chunk(model, job, chunk)
    assemble_chunks(job)
    with av.open(str(single)) as a, av.open(str(target)) as b:
        pa = [(p.pts, p.dts, bytes(p)) for p in a.demux(a.streams.video[0]) if p.size]
        pb = [(p.pts, p.dts, bytes(p)) for p in b.demux(b.streams.video[0]) if p.size]
    assert pa == pb


def test_iter_upscaled_frames_equals_the_engine_per_frame(model):
    images = [frame_image(i, 10, 14) for i in range(3)]
    got = list(iter_upscaled_frames(model, iter(images), tile=8))
    for image, result in zip(images, got, strict=True):
        assert np.array_equal(result, run_upscale(model, image, tile=8).image)


def test_prepared_frame_upscaler_equals_run_upscale(model):
    image = frame_image(3, 20, 18).astype(np.uint16) * 257
    upscaler = prepare_frame_upscaler(model, 20, 18, dtype=np.uint16, tile=8, out_width=27)
    expected = run_upscale(model, image, tile=8, width=27).image
    assert np.array_equal(upscaler(image), expected)
    assert upscaler(image).shape == (30, 27, 3) and upscaler.report().images == 2


def test_colour_tags_aspect_ratio_language_and_creation_time_are_kept(tmp_path, model):
    src = tmp_path / "tagged.mp4"
    with av.open(str(src), "w") as out:
        out.metadata["creation_time"] = "2020-01-02T03:04:05.000000Z"
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 32, 24, "yuv420p"
        ctx = video.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, 16, 9, 2  # BT.2020 PQ, full
        video.sample_aspect_ratio = Fraction(4, 3)
        video.metadata["language"] = "jpn"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 24, 32))
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    out_path = tmp_path / "tagged_big.mp4"
    upscale_video(model, src, out_path, encoder_options=FAST)
    before, after = probe_video(src), probe_video(out_path)
    assert after.colour_codes == before.colour_codes == (9, 16, 9, 2)
    assert after.sample_aspect_ratio == Fraction(4, 3)
    assert after.metadata["creation_time"] == "2020-01-02T03:04:05.000000Z"
    assert after.streams[0].language == "jpn"
    # the full-range BT.2020 matrix is used both ways: levels come back where they were
    assert np.allclose(
        [f.image.mean() for f in iter_video_frames(out_path)],
        [f.image.mean() for f in iter_video_frames(src)],
        atol=3,
    )


@pytest.mark.real_weights
def test_animevideov3_by_name_with_default_encoder_settings_across_chunk_seams(tmp_path, clip):
    """The embedded weights, the default x264 settings (B-frames, so decode times differ from
    presentation times at every chunk seam) and three chunks."""
    out = tmp_path / "anime.mp4"
    report = upscale_video("realesr-animevideov3", clip, out, outscale=2, chunk_frames=4)
    assert (report.codec, report.preset, report.crf, report.chunks) == ("libx264", "medium", 18, 3)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        reordered = [p for p in container.demux(stream) if p.size and p.pts != p.dts]
        container.seek(0)
        frames = list(container.decode(stream))
    assert reordered, "B-frames: decode order differs from presentation order"
    assert all(f.pts is not None for f in frames)
    assert [Fraction(f.pts or 0) * Fraction(f.time_base) for f in frames] == frame_times(clip)
    assert (frames[0].width, frames[0].height) == (64, 48)
    levels = [float(f.to_ndarray(format="rgb24")[:, :, 0].mean()) for f in frames]
    expected = [float(frame_image(i, 24, 32)[:, :, 0].mean()) for i in range(12)]
    assert np.allclose(levels, expected, atol=8), "the real model keeps each frame's content"


def test_a_raw_stream_without_timestamps_gets_the_stream_rate(tmp_path, model):
    src = tmp_path / "raw.h264"  # an elementary stream: no container, no timestamps
    with av.open(str(src), "w", format="h264") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 32, 24, "yuv420p"
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(frame_image(i, 24, 32))
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    assert len(plan_chunks(src)) == 1, "nothing to seek by: one chunk"
    out_path = tmp_path / "raw_big.mp4"
    upscale_video(model, src, out_path, encoder_options=FAST)
    assert frame_times(out_path) == [Fraction(i, 25) for i in range(6)]


def test_a_seek_that_lands_too_late_falls_back_to_decoding_from_the_start(clip):
    from realesrgan_kit.core.video.frames import decode_frames, scan_packets

    scan = scan_packets(clip)

    class PoorIndex:
        """A container whose index sends the first seek one keyframe too far."""

        def __init__(self, container):
            self.container, self.seeks = container, []

        def seek(self, pts, **kwargs):
            self.seeks.append(pts)
            if len(self.seeks) == 1:
                pts = scan.keyframes[scan.keyframes.index(pts) + 1]
            return self.container.seek(pts, **kwargs)

        def decode(self, stream):
            return self.container.decode(stream)

    with av.open(str(clip)) as container:
        poor = PoorIndex(container)
        frames = decode_frames(
            poor,
            container.streams.video[0],
            clip,
            seek_pts=scan.pts[4],
            start_pts=scan.pts[5],
            stop_pts=scan.pts[7],
        )
        assert [f.pts for f in frames] == [scan.pts[5], scan.pts[6]]
    assert poor.seeks == [scan.pts[4], 0]
