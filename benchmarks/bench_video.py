"""Video benchmark: the video path's overhead over the engine alone, and its memory vs clip length.

    python benchmarks/bench_video.py            # 854×480 → ×2, 16-frame clip and a 64-frame clip
    python benchmarks/bench_video.py --quick    # 256×144 → ×2, 4 and 16 frames (checks it runs)

A clip is generated first (panning over tests/data/gt/baboon.png, H.264 with a 2-second GOP
and an AAC tone track, as a camera or an export would make it). Every row runs in its own
fresh process, so its peak RSS is its own, with the embedded ``realesr-animevideov3``:

- engine alone: the frames decoded into memory beforehand (not timed), then upscaled with the
  engine's prepared per-frame upscaler, the same computation the video path runs per frame;
- engine, run_upscale per frame: what a loop over ``run_upscale`` costs (weights prepared per call);
- video path: ``upscale_video`` on the clip (decode, model, encode with libx264 at its default
  preset and CRF, audio copied, chunk files, assembly), wall time of the whole call;
- video path, 4× longer clip: the same on a clip four times as long, for its peak RSS.

Overhead = (video wall − engine wall) ÷ video wall (floor: ≤ 10 %); RSS growth = peak RSS of the
4× clip ÷ peak RSS of the 1× clip − 1 (floor: ≤ 10 %).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import cpu_class, import_package

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "gt" / "baboon.png"
MODEL = "realesr-animevideov3"
RATE = 24


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """A panning view over the photo (real texture for the encoder), with a tone track."""
    import av
    import cv2
    import numpy as np

    bgr = cv2.imread(str(PHOTO))
    if bgr is None:
        raise FileNotFoundError(f"the benchmark photo {PHOTO} is missing")
    photo = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    scale = max(width * 1.25 / photo.shape[1], height * 1.25 / photo.shape[0])
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    span_x, span_y = photo.shape[1] - width, photo.shape[0] - height
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "20", "g": str(2 * RATE)}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for i in range(frames):
            x = int(span_x * (0.5 + 0.5 * np.sin(i / 11)))
            y = int(span_y * (0.5 + 0.5 * np.cos(i / 17)))
            view = np.ascontiguousarray(photo[y : y + height, x : x + width], dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(view, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, RATE)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = frames * 48000 // RATE
        t = np.arange(samples) / 48000
        tone = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32) * 0.2
        for start in range(0, samples, 1024):
            chunk = np.ascontiguousarray(tone[:, start : start + 1024])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, start
            for packet in audio.encode(af):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


# ---------------------------------------------------------------- in the child process


def child(row: str, clip: Path, out: Path) -> dict:
    import importlib

    import numpy as np

    kit = import_package()
    engine = importlib.import_module("realesrgan_kit.core.engine")
    video = importlib.import_module("realesrgan_kit.core.video")
    prepare_frame_upscaler, run_upscale = engine.prepare_frame_upscaler, engine.run_upscale
    iter_video_frames, upscale_video = video.iter_video_frames, video.upscale_video

    model = kit.load_model(MODEL)
    run_upscale(model, np.zeros((32, 32, 3), np.uint8), outscale=2)  # warm-up: kernels, model facts
    if row in ("engine", "engine_per_call"):
        frames = [f.image for f in iter_video_frames(clip)]
        started = time.perf_counter()
        if row == "engine":
            h, w = frames[0].shape[:2]
            upscaler = prepare_frame_upscaler(model, h, w, outscale=2)
            results = [upscaler(f).sum(dtype=np.uint64) for f in frames]
        else:
            results = [run_upscale(model, f, outscale=2).image.sum(dtype=np.uint64) for f in frames]
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "frames": len(results)}
    started = time.perf_counter()
    report = upscale_video(model, clip, out, outscale=2, force=True)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "frames": report.frames,
        "codec": f"{report.codec} {report.preset} crf {report.crf}",
        "chunks": report.chunks,
        "size": f"{report.output_size[0]}×{report.output_size[1]}",
    }


# ---------------------------------------------------------------- in the parent process


def run_row(row: str, clip: Path, workdir: Path) -> dict:
    out = workdir / f"{row}.mp4"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        row,
        "--clip",
        str(clip),
        "--out",
        str(out),
    ]
    log = workdir / f"{row}.log"
    with open(log, "w") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
    text = log.read_text().strip().splitlines()
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": next((line for line in reversed(text) if line.strip()), "failed")}
    info = json.loads(text[-1])
    info["peak_rss"] = usage.ru_maxrss * 1024
    return info


LABELS = {
    "engine": "engine alone (prepared once, frames in memory)",
    "engine_per_call": "engine, run_upscale per frame",
    "video": "video path (upscale_video)",
    "video_long": "video path, 4× longer clip",
}


def render(results: dict, width: int, height: int, frames: int) -> str:
    engine, video, long = results.get("engine", {}), results.get("video", {}), results.get("video_long", {})
    cls = cpu_class()
    lines = [
        f"# Video benchmark ({datetime.date.today().isoformat()})",
        "",
        f"{MODEL} (embedded weights), {width}×{height} → ×2, H.264 source with AAC audio; clips of {frames} and "
        f"{4 * frames} frames. {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"CPU class {cls}. Each row in its own process after a 32² warm-up.",
        "",
        "| CPU | path | frames | wall s | frames/s | overhead vs engine alone (share of wall) | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in ("engine", "engine_per_call", "video", "video_long"):
        info = results.get(row)
        if info is None:
            continue
        if "error" in info:
            lines.append(f"| {cls} | {LABELS[row]} | failed: {info['error']} | | | | |")
            continue
        overhead = "–"
        if row.startswith("video") and "seconds" in engine:
            base = engine["seconds"] * info["frames"] / engine["frames"]
            overhead = f"{100 * (info['seconds'] - base) / info['seconds']:+.1f} %"
        label = LABELS[row] + (f" [{info['codec']}, {info['chunks']} chunk(s)]" if "codec" in info else "")
        lines.append(
            f"| {cls} | {label} | {info['frames']} | {info['seconds']:.2f} | {info['frames'] / info['seconds']:.2f} "
            f"| {overhead} | {info['peak_rss'] / 2**20:.0f} MB |"
        )
    if "peak_rss" in video and "peak_rss" in long:
        growth = long["peak_rss"] / video["peak_rss"] - 1
        lines += ["", f"Peak RSS growth for the 4× longer clip: {100 * growth:+.1f} % (floor ≤ +10 %)."]
    if "seconds" in engine and "seconds" in video:
        share = (video["seconds"] - engine["seconds"] * video["frames"] / engine["frames"]) / video["seconds"]
        lines += [
            f"Video-path overhead over the engine alone: {100 * share:.1f} % of wall time (floor ≤ 10 %)."
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256×144, 4- and 16-frame clips")
    parser.add_argument(
        "--frames", type=int, default=None, help="frames of the short clip (default 16, quick 4)"
    )
    parser.add_argument(
        "--rows",
        default="engine,engine_per_call,video,video_long",
        help="comma-separated rows to run (e.g. video,video_long for the memory floor alone)",
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.clip, args.out)))
        return 0
    width, height = (256, 144) if args.quick else (854, 480)
    frames = args.frames or (4 if args.quick else 16)
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        workdir = Path(tmp)
        print("making the clips ...", file=sys.stderr, flush=True)
        short = make_clip(workdir / "clip.mp4", width, height, frames)
        long = make_clip(workdir / "clip_long.mp4", width, height, 4 * frames)
        results = {}
        wanted = {row.strip() for row in args.rows.split(",")}
        unknown = wanted - set(LABELS)
        if unknown:
            parser.error(f"unknown rows {sorted(unknown)}; choose from {', '.join(LABELS)}")
        for row, clip in (
            ("engine", short),
            ("engine_per_call", short),
            ("video", short),
            ("video_long", long),
        ):
            if row not in wanted:
                continue
            print(f"running {row} ...", file=sys.stderr, flush=True)
            results[row] = run_row(row, clip, workdir)
    table = render(results, width, height, frames)
    print(table)
    if args.output is not None:
        args.output.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
