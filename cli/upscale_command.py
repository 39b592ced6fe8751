"""``realesrgan-kit upscale``: files or folders in, upscaled files out (images and videos).

Images are read and written through ``core.imagefile``: 16-bit, float32, alpha and gray survive,
EXIF orientation is applied, ICC/EXIF/XMP/DPI/PNG text are written back where the output format
holds them (``--strip-metadata`` drops them), the pixel count is checked from the header before
decoding (``--max-pixels``); writes are atomic; an input is never overwritten. With several inputs or a
folder, a file that fails is reported and skipped, a summary is printed and the exit code is
non-zero. Videos are recognised by content and streamed through ``core.video``
(see ``video_options``); a folder may mix images and videos. The files are the units of a job
(``core.jobs``): run here one after another, or on Ray with ``--ray`` (videos then in chunks).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.imagefile import DEFAULT_MAX_PIXELS
from ..core.jobs.upscale_job import fit_format
from ..core.options import parse_tile
from . import job_options
from .option_arguments import add_option_argument, engine_options
from .video_options import VideoProgressBar, add_video_arguments, check_temporal_for_inputs

log = logging.getLogger(__name__)

__all__ = ["register", "cmd_upscale", "fit_format", "ProgressBar"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "upscale",
        help="upscale images, videos or folders of them",
        description="Upscale images and videos with a Real-ESRGAN model (default: the embedded RealESRGAN_x4plus, offline).",
        epilog="examples: realesrgan-kit upscale photo.png -o photo_x4.png; "
        "realesrgan-kit upscale clip.mp4 -o clip_x2.mp4 --outscale 2 --model realesr-animevideov3",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders of them")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file (one input) or folder (written as OUT/<name>.<ext>)",
    )
    p.add_argument(
        "-m", "--model", default=None, help="model name or weights file (default: RealESRGAN_x4plus)"
    )
    size = p.add_argument_group("output size (default: the model's scale)")
    add_option_argument(size, "outscale")
    add_option_argument(size, "width")
    add_option_argument(size, "height")
    _add_engine_arguments(p)
    _add_file_arguments(p)
    add_video_arguments(p)
    job_options.add_job_arguments(p)
    p.set_defaults(func=cmd_upscale)


def _add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """How the network runs: tiles, precision, backend, alpha, TTA, denoise, device, threads."""
    add_option_argument(p, "tile")
    add_option_argument(p, "tile_pad")
    add_option_argument(p, "precision")
    add_option_argument(p, "backend")
    p.add_argument(
        "--remeasure-backend",
        action="store_true",
        help="measure the backends again for this model on this machine before upscaling (for --backend auto)",
    )
    add_option_argument(p, "alpha")
    add_option_argument(p, "tta")
    p.add_argument(
        "-n",
        "--denoise",
        type=float,
        default=None,
        help="denoise strength 0..1 for realesr-general-x4v3 (blends with its weak-denoise twin)",
    )
    add_option_argument(p, "device")
    add_option_argument(p, "threads")


def _add_file_arguments(p: argparse.ArgumentParser) -> None:
    """What is written and read: format, metadata, the pixel limit, replacing, downloading."""
    p.add_argument(
        "--ext",
        default=None,
        help="output format for folder outputs (png, jpg, webp, tif, exr, avif; mp4, mkv, ... for videos); "
        "default: the input's",
    )
    p.add_argument(
        "--strip-metadata",
        action="store_true",
        help="write no metadata (default: keep ICC profile, EXIF, XMP, DPI and PNG text such as ComfyUI's workflow)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse images with more pixels than this, checked before decoding (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument(
        "--force", action="store_true", help="replace existing outputs (inputs are never replaced)"
    )
    p.add_argument(
        "--allow-download", action="store_true", help="download a missing official model (checked by SHA-256)"
    )


class ProgressBar:
    """A one-line text bar on stderr (only on a terminal)."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        width = 24
        filled = round(width * done / total)
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} tiles {elapsed:5.1f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def cmd_upscale(args: argparse.Namespace) -> int:
    from ..core.jobs import LocalExecutor, UpscaleWorker, plan_upscale_job, run_job
    from ..core.jobs.upscale_job import split_videos
    from ..core.load import load_model
    from ..core.zoo import DEFAULT_MODEL

    tile = parse_tile(args.tile, name="--tile")
    executor = job_options.executor_for(args)
    on_cluster = executor is not None
    where = job_options.absolute if on_cluster else (lambda x: x)
    source = args.model or DEFAULT_MODEL
    if on_cluster and Path(source).is_file():
        source = job_options.absolute(source)
    load_options = dict(denoise_strength=args.denoise, allow_download=args.allow_download)
    job, batch = plan_upscale_job(
        [where(i) for i in args.inputs],
        where(args.output),
        model_source=source,
        ext=args.ext,
        overwrite=args.force,
        resume=args.resume,
        max_retries=args.retries,
        max_pixels=args.max_pixels,
        keep_metadata=not args.strip_metadata,
        load_options=load_options,
        video_options=dict(
            codec=args.codec,
            crf=args.crf,
            preset=args.preset,
            pix_fmt=args.pix_fmt,
            frames=args.frames,
            chunk_seconds=args.chunk_seconds,
            temporal=args.temporal,
        ),
        options=engine_options(args, tile=tile),
    )
    check_temporal_for_inputs(args.temporal, any(u.kind == "video" for u in job.units))
    model = load_model(source, device=None, **load_options)  # here too: fails early, sizes workers
    if args.remeasure_backend:
        from ..core.engine.backends import measure_backends

        entry = measure_backends(model, args.precision, remeasure=True, threads=args.threads)
        log.info("backend measurement: %s %s (%s)", entry["backend"], entry["precision"], entry["seconds"])
    assert isinstance(job.worker, UpscaleWorker)
    job.worker = job.worker.with_model(model)
    if executor is None:
        executor = LocalExecutor(tile_progress=_bar)
    else:
        job = split_videos(job, model)  # chunks of a clip run on any worker; the driver assembles

    report = _reporter(args, batch=batch, on_cluster=on_cluster)
    summary = run_job(job, executor, progress=report)
    return _finish(summary, batch=batch, on_cluster=on_cluster)


def _reporter(args: argparse.Namespace, *, batch: bool, on_cluster: bool) -> Callable[[Any, Any], None]:
    """What each finished unit prints: a file's result; a failure in a batch, which goes on."""

    def report(outcome, counts) -> None:
        if outcome.unit.kind == "video_chunk":  # a part of a file; its clip is reported whole
            if on_cluster and not getattr(args, "quiet", False):
                job_options.cluster_progress(outcome, counts)
            return
        if outcome.status == "done":
            print(outcome.message, file=sys.stdout)
        elif outcome.status == "failed" and batch and not on_cluster:
            print(f"realesrgan-kit: skipped {outcome.unit.key}: {_message(outcome)}", file=sys.stderr)
        if on_cluster and not getattr(args, "quiet", False):
            job_options.cluster_progress(outcome, counts)

    return report


def _finish(summary: Any, *, batch: bool, on_cluster: bool) -> int:
    """Print the batch's tally (and the cluster's nodes); the exit status. One failed file raises its error."""
    files = [o for o in summary.outcomes if o.unit.kind != "video_chunk"]
    failures = [o for o in files if o.status == "failed"]
    if failures and not batch:
        if failures[0].exception is not None:
            raise failures[0].exception
        print(f"realesrgan-kit: error: {failures[0].error}", file=sys.stderr)
        return 1
    if batch:
        skipped = sum(o.status == "skipped" for o in files)
        print(
            f"{sum(o.status == 'done' for o in files)} upscaled, {len(failures)} failed"
            + (f", {skipped} skipped (finished earlier)" if skipped else "")
            + (f" ({', '.join(o.unit.key for o in failures)})" if failures else ""),
            file=sys.stderr,
        )
    if on_cluster:
        job_options.print_nodes(summary)
    return 1 if failures else 0


def _bar(unit):
    """The terminal bar of a unit run here: tiles of an image, frames of a video."""
    from ..core.jobs.storage import name_of

    name = name_of(unit.sources[0])
    return VideoProgressBar(name) if unit.kind == "video" else ProgressBar(name)


def _message(outcome) -> str:
    """The error as the single-process command printed it (the message, without the type)."""
    if outcome.exception is not None:
        return str(outcome.exception)
    return outcome.error or ""
