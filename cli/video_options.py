"""Video inputs of ``realesrgan-kit upscale``: options and the progress bar.

A video is recognised by content (``core.video.is_video_file``), so folders may mix images and
videos; the image options apply to both, the options below to videos only. Output names and
the run itself are the job's (``core.jobs.upscale_job``); ``--resume`` is a job option.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any, TextIO

from ..core.errors import InvalidParameterError
from ..core.options import DEFAULT_TEMPORAL, TEMPORAL_HELP, TEMPORAL_OFF, Temporal, parse_temporal_choice
from ..core.video.chunks import DEFAULT_CHUNK_SECONDS

log = logging.getLogger(__name__)


def temporal_argument(text: str) -> Temporal:
    """``--temporal``'s value in the one vocabulary (argparse reports a bad one as a usage error)."""
    try:
        return parse_temporal_choice(text, name="--temporal")
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        "--chunk-seconds",
        type=float,
        default=None,
        help=f"longest chunk, the unit of --resume and of --ray, cut whatever the keyframes "
        f"(default {DEFAULT_CHUNK_SECONDS:g} s of video)",
    )
    group.add_argument(
        "--temporal",
        type=temporal_argument,
        default=None,
        metavar="auto|off|S",
        help=f"{TEMPORAL_HELP} (default {DEFAULT_TEMPORAL}); chunked, resumed and --ray runs give the "
        "same frames as one pass",
    )


def check_temporal_for_inputs(temporal: Temporal | None, any_video: bool) -> None:
    """``--temporal`` is for videos: asked for with images only, it is a mistake worth saying;
    in a folder that mixes both, the images are upscaled frame by frame as always."""
    if temporal is not None and temporal != TEMPORAL_OFF and not any_video:
        raise InvalidParameterError(
            f"--temporal {temporal} stabilises video frames against each other, but no input is a video; "
            "drop --temporal for images (a folder that also holds videos applies it to the videos only)"
        )


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
