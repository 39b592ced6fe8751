"""``realesrgan-kit upscale``: files or folders in, upscaled files out (images and videos).

Reads and writes through ``core.imagefile``: 16-bit, float32, alpha and gray survive, EXIF
orientation is applied, and ICC/EXIF/XMP/DPI/PNG text are written back where the output format
holds them (``--strip-metadata`` drops them); the pixel count is checked from the header before
decoding (``--max-pixels``); writes are atomic; an input is never overwritten. With several inputs or a
folder, a file that fails is reported and skipped, a summary is printed and the exit code is
non-zero. Videos are recognised by content and streamed through ``core.video``
(see ``video_options``); a folder may mix images and videos.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..core.errors import InvalidParameterError, OutputExistsError, RealESRGANKitError
from ..core.imagefile import (
    DEFAULT_MAX_PIXELS,
    READABLE_SUFFIXES,
    WRITABLE_SUFFIXES,
    read_image_file,
    sniff_format,
    write_image_file,
)
from ..core.options import ALPHA_MODES, PRECISIONS, TILE_AUTO, TILE_HELP, parse_tile
from .video_options import add_video_arguments, upscale_one_video, video_output_path

log = logging.getLogger(__name__)

# Suffixes that announce a video; used only to word the error for an unreadable named file.
VIDEO_INPUT_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mkv",
    ".mov",
    ".webm",
    ".avi",
    ".ts",
    ".mts",
    ".m2ts",
    ".nut",
    ".flv",
    ".wmv",
    ".mpg",
    ".mpeg",
    ".3gp",
)
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp", ".avif")
_NO_ALPHA = (".jpg", ".jpeg", ".bmp")


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
    size.add_argument("-s", "--outscale", type=float, default=None, help="final scale factor, any value > 0")
    size.add_argument("--width", type=int, default=None, help="final width (height follows unless given)")
    size.add_argument("--height", type=int, default=None, help="final height (width follows unless given)")
    p.add_argument(
        "-t", "--tile", default=TILE_AUTO, metavar="auto|whole|N", help=f"{TILE_HELP} (default: auto)"
    )
    p.add_argument(
        "--tile-pad", type=int, default=None, help="context pixels around each tile (default: per model)"
    )
    p.add_argument("--precision", choices=PRECISIONS, default="auto")
    p.add_argument(
        "--alpha",
        choices=ALPHA_MODES,
        default="model",
        help="alpha channel: through the network, resized, or dropped",
    )
    p.add_argument("--tta", action="store_true", help="average the 8 flips and rotations (8× slower)")
    p.add_argument(
        "-n",
        "--denoise",
        type=float,
        default=None,
        help="denoise strength 0..1 for realesr-general-x4v3 (blends with its weak-denoise twin)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
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
        help=f"refuse inputs with more pixels than this, checked before decoding (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.add_argument(
        "--force", action="store_true", help="replace existing outputs (inputs are never replaced)"
    )
    p.add_argument(
        "--allow-download", action="store_true", help="download a missing official model (checked by SHA-256)"
    )
    add_video_arguments(p)
    p.set_defaults(func=cmd_upscale)


def _media_files(folder: Path) -> list[tuple[Path, bool]]:
    """The images (by extension) and videos (by content) directly inside ``folder``, sorted."""
    from ..core.video import is_video_file

    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if _is_still_image(path):
            found.append((path, False))
        elif is_video_file(path):
            found.append((path, True))
        elif path.suffix.lower() in READABLE_SUFFIXES:
            found.append((path, False))
    return found


def _is_still_image(path: Path) -> bool:
    """An image by extension and magic bytes (FFmpeg also opens HEIC, AVIF... as one-frame videos)."""
    if path.suffix.lower() not in READABLE_SUFFIXES:
        return False
    with path.open("rb") as fh:
        return sniff_format(fh.read(32)) is not None


def _collect_inputs(inputs: Iterable[str]) -> tuple[list[tuple[Path, bool]], bool]:
    """Input files with whether each is a video, and whether the run is a batch (a folder or
    several inputs)."""
    from ..core.video import is_video_file

    files: list[tuple[Path, bool]] = []
    batch = False
    names = list(inputs)
    for name in names:
        path = Path(name)
        if path.is_dir():
            batch = True
            found = _media_files(path)
            if not found:
                log.warning("no images (%s) or videos in %s", ", ".join(WRITABLE_SUFFIXES), path)
            files.extend(found)
        elif path.is_file():
            # a named file with a video suffix that is no readable video gets the video error
            video = not _is_still_image(path) and (
                is_video_file(path) or path.suffix.lower() in VIDEO_INPUT_SUFFIXES
            )
            files.append((path, video))
        else:
            raise FileNotFoundError(f"input {path} does not exist")
    return files, batch or len(names) > 1


def _output_path(source: Path, output: Path, batch: bool, ext: str | None) -> Path:
    if not batch and output.suffix.lower() in WRITABLE_SUFFIXES and not output.is_dir():
        return output
    wanted = f".{ext.lstrip('.').lower()}" if ext else None
    own = source.suffix.lower() if source.suffix.lower() in WRITABLE_SUFFIXES else ".png"  # e.g. HEIC in
    suffix = wanted if wanted in WRITABLE_SUFFIXES else own  # a video --ext is for videos
    return output / f"{source.stem}{suffix}"


def fit_format(image: np.ndarray, suffix: str, name: str) -> np.ndarray:
    """Adapt a result to a format the user chose that cannot hold all of it (with a warning)."""
    if suffix in _EIGHT_BIT_ONLY and image.dtype != np.uint8:
        log.warning(
            "%s holds 8 bits only: writing %s as 8-bit (use .png or .tif to keep 16 bits)", suffix, name
        )
        peak = 1.0 if np.issubdtype(image.dtype, np.floating) else float(np.iinfo(image.dtype).max)
        image = np.rint(np.clip(image.astype(np.float32) * (255.0 / peak), 0, 255)).astype(np.uint8)
    if suffix in _NO_ALPHA and image.ndim == 3 and image.shape[2] == 4:
        log.warning(
            "%s has no alpha channel: dropping it for %s (use .png, .webp or .tif to keep it)", suffix, name
        )
        image = np.ascontiguousarray(image[:, :, :3])
    return image


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
    from ..core.engine import run_upscale
    from ..core.fileio import same_file
    from ..core.load import load_model
    from ..core.video import VIDEO_SUFFIXES
    from ..core.zoo import DEFAULT_MODEL

    tile = parse_tile(args.tile, name="--tile")
    files, batch = _collect_inputs(args.inputs)
    output = Path(args.output)
    if batch and output.suffix.lower() in WRITABLE_SUFFIXES + VIDEO_SUFFIXES and not output.is_dir():
        raise InvalidParameterError(f"several inputs need an output folder, not the file name {output}")
    targets = [
        (
            source,
            video_output_path(source, output, batch, args.ext)
            if is_video
            else _output_path(source, output, batch, args.ext),
            is_video,
        )
        for source, is_video in files
    ]
    for source, target, _ in targets:
        if same_file(source, target) or source.resolve() == target.resolve():
            raise OutputExistsError(f"output {target} is the input {source}: refusing to overwrite an input")
    model = load_model(
        args.model or DEFAULT_MODEL,
        device=None,
        denoise_strength=args.denoise,
        allow_download=args.allow_download,
    )
    options = dict(
        outscale=args.outscale,
        width=args.width,
        height=args.height,
        tile=tile,
        tile_pad=args.tile_pad,
        precision=args.precision,
        alpha=args.alpha,
        tta=args.tta,
        device=args.device,
        threads=args.threads,
    )
    failures: list[tuple[Path, str]] = []
    done = 0
    for source, target, is_video in targets:
        try:
            if is_video:
                upscale_one_video(model, source, target, options, args)
            else:
                _upscale_one(run_upscale, model, source, target, options, args)
            done += 1
        except (RealESRGANKitError, OSError) as exc:
            if not batch:
                raise
            failures.append((source, str(exc)))
            print(f"realesrgan-kit: skipped {source}: {exc}", file=sys.stderr)
    if batch:
        print(
            f"{done} upscaled, {len(failures)} failed"
            + (f" ({', '.join(str(s) for s, _ in failures)})" if failures else ""),
            file=sys.stderr,
        )
    return 1 if failures else 0


def _upscale_one(
    run: Callable, model, source: Path, target: Path, options: dict, args: argparse.Namespace
) -> None:
    overwrite = args.force
    suffix = target.suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise InvalidParameterError(
            f"unknown output format {target.suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}"
        )
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} exists; pass --force to replace it")
    loaded = read_image_file(source, max_pixels=args.max_pixels)  # upright; 8/16-bit or float32
    image = loaded.pixels
    bar = ProgressBar(source.name)
    try:
        result = run(model, image, progress=bar, **options)
    finally:
        bar.close()
    metadata = None if args.strip_metadata else loaded.metadata
    write_image_file(target, fit_format(result.image, suffix, target.name), metadata, overwrite=overwrite)
    report = result.report
    log.info(
        "%s → %s: %dx%d → %dx%d, %d tiles of %d px, %s on %s, %.1fs",
        source,
        target,
        report.input_size[1],
        report.input_size[0],
        report.output_size[1],
        report.output_size[0],
        report.tiles,
        report.tile,
        report.precision,
        report.device,
        report.seconds,
    )
    print(f"{target}", file=sys.stdout)
