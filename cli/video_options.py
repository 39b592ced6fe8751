"""Video inputs of ``realesrgan-kit upscale``: options, output names, progress bar, one clip.

A video is recognised by content (``core.video.is_video_file``), so folders may mix images and
videos; the image options apply to both, the options below to videos only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("video inputs (recognised by content)")
    group.add_argument(
        "--codec",
        default=None,
        help="video encoder: libx264, libx265, libvpx-vp9, ffv1, ... (default: per container)",
    )
    group.add_argument(
        "--crf", type=int, default=None, help="constant quality (x264 default 18; lower = better)"
    )
    group.add_argument(
        "--preset", default=None, help="encoder speed/size preset (x264/x265: ultrafast..veryslow)"
    )
    group.add_argument(
        "--pix-fmt",
        default=None,
        help="output pixel format, e.g. yuv420p10le (default: the source's where possible)",
    )
    group.add_argument(
        "--frames", default=None, metavar="A:B", help="only frames A ≤ i < B (try a range first), e.g. 0:48"
    )
    group.add_argument(
        "--resume", action="store_true", help="continue an interrupted video job from its finished chunks"
    )
    group.add_argument(
        "--chunk-seconds", type=float, default=None, help="chunk length for resume (default 10 s of video)"
    )


def video_output_path(source: Path, output: Path, batch: bool, ext: str | None) -> Path:
    from ..core.video import VIDEO_SUFFIXES

    if not batch and not output.is_dir():
        return output
    wanted = f".{ext.lstrip('.').lower()}" if ext else None
    if wanted in VIDEO_SUFFIXES:
        suffix = wanted
    elif source.suffix.lower() in VIDEO_SUFFIXES:
        suffix = source.suffix.lower()
    else:
        suffix = ".mp4"
    return output / f"{source.stem}{suffix}"


class VideoProgressBar:
    """frames done/total, frames per second and time left, on one line of a terminal."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        finished = progress.frames_total is not None and progress.frames_done >= progress.frames_total
        if not self.enabled or (now - self.last < 0.2 and not finished):
            return
        self.last = now
        total = progress.frames_total
        width = 24
        filled = round(width * progress.frames_done / total) if total else 0
        eta = "--:--" if progress.eta_seconds is None else _clock(progress.eta_seconds)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {progress.frames_done}/{total or '?'} frames "
            f"{progress.fps:5.2f} fps ETA {eta}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    h, rest = divmod(round(max(0.0, seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def upscale_one_video(
    model: Any, source: Path, target: Path, options: dict, args: argparse.Namespace
) -> None:
    from ..core.video import DEFAULT_CHUNK_SECONDS, upscale_video

    bar = VideoProgressBar(source.name)
    try:
        report = upscale_video(
            model,
            source,
            target,
            outscale=options["outscale"],
            width=options["width"],
            height=options["height"],
            tile=options["tile"],
            tile_pad=options["tile_pad"],
            precision=options["precision"],
            tta=options["tta"],
            device=options["device"],
            threads=options["threads"],
            codec=args.codec,
            crf=args.crf,
            preset=args.preset,
            pix_fmt=args.pix_fmt,
            frames=args.frames,
            chunk_seconds=args.chunk_seconds or DEFAULT_CHUNK_SECONDS,
            resume=args.resume,
            force=args.force,
            progress=bar,
        )
    finally:
        bar.close()
    rounded = ""
    if report.requested_size is not None:
        rounded = (
            f" (rounded from {report.requested_size[0]}×{report.requested_size[1]} for {report.pix_fmt})"
        )
    log.info(
        "%s → %s: %d frames %d×%d → %d×%d%s, %s %s, %d chunks (%d reused), %.1f s, %.2f fps; copied: %s",
        source,
        target,
        report.frames,
        *report.input_size,
        *report.output_size,
        rounded,
        report.codec,
        report.pix_fmt,
        report.chunks,
        report.chunks_reused,
        report.seconds,
        report.fps,
        ", ".join(report.copied_streams) or "no other streams",
    )
    if rounded:
        print(
            f"realesrgan-kit: note: {target.name} is {report.output_size[0]}×{report.output_size[1]}{rounded}",
            file=sys.stderr,
        )
    print(f"{target}", file=sys.stdout)
