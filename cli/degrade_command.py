"""``degrade``: Real-ESRGAN's training degradation applied to your own images.

Each file's randomness is ``derive_seed(--seed, file name)``: re-running the same command on
the same files reproduces every output byte for byte, alone or inside a folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.degrade import STEPS, degrade, derive_seed, settings_from
from ..core.degrade.pairs import aligned_crop_boxes, check_hr_crop, pair_scale
from ..core.degrade.sampling import check_scale
from ..core.errors import InvalidImageError, InvalidParameterError, RealESRGANKitError
from ..core.fileio import atomic_output, same_file
from ..core.imageio import DEFAULT_MAX_PIXELS, image_files, read_image
from ..core.imageio import WRITABLE_SUFFIXES as IMAGE_SUFFIXES
from ..core.imageio import write_image as write_image_file
from ..core.options import DEGRADE_PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "degrade",
        help="degrade images the way Real-ESRGAN's training does (preview, tests, paired data)",
        description="Apply Real-ESRGAN's second-order degradation. Writes the degraded image and a JSON "
        "sidecar (<output>.json) with every sampled parameter; --pairs writes aligned HR/LR crops.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="steps that can be switched off:\n  "
        + "\n  ".join(
            " ".join(f"--no-{s.replace('_', '-')}" for s in STEPS[i : i + 5]) for i in range(0, len(STEPS), 5)
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files or folders (folders: their images, not recursive)",
    )
    p.add_argument(
        "-o", "--output", type=Path, help="output image (one input) or folder (written as <name>.png)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="base seed; each file uses a seed derived from it and its file name (default 0)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=4.0,
        help="output = input size ÷ scale, rounded down; 1 to 4 (default 4)",
    )
    p.add_argument(
        "--preset",
        choices=DEGRADE_PRESETS,
        default="realesrgan",
        help="sampling ranges (default: realesrgan, the training ranges)",
    )
    for step in STEPS:
        p.add_argument(
            f"--no-{step.replace('_', '-')}", dest=f"no_{step}", action="store_true", help=argparse.SUPPRESS
        )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a range or probability, e.g. --set noise_range=1,10 --set second_blur_prob=0",
    )
    p.add_argument(
        "--pairs",
        type=Path,
        metavar="DIR",
        help="also write aligned crops to DIR/hr and DIR/lr (integer scale)",
    )
    p.add_argument(
        "--crop",
        type=int,
        metavar="HR_SIZE",
        help="with --pairs: square HR crops of this size on a grid (a multiple of the scale)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace existing outputs (inputs are never overwritten)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse inputs with more pixels than this, checked before decoding (default {DEFAULT_MAX_PIXELS:,})",
    )
    p.set_defaults(func=cmd_degrade)


def _parse_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(f"--set expects KEY=VALUE (e.g. noise_range=1,10); got {item!r}")
        overrides[key.strip()] = value
    return overrides


def _collect_inputs(inputs: list[str]) -> tuple[list[Path], bool]:
    files, from_folder = [], False
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = image_files(path)
            if not found:
                raise InvalidImageError(f"the folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            files += found
            from_folder = True
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return files, from_folder


def _output_paths(files: list[Path], output: Path | None, from_folder: bool) -> dict[Path, Path | None]:
    if output is None:
        return dict.fromkeys(files)
    if (
        len(files) == 1
        and not from_folder
        and output.suffix.lower() in IMAGE_SUFFIXES
        and not output.is_dir()
    ):
        return {files[0]: output}
    if output.suffix.lower() in IMAGE_SUFFIXES and not output.is_dir():
        raise InvalidParameterError(
            f"-o {output} looks like a file, but there are {len(files)} inputs; give a folder"
        )
    targets = {f: output / f"{f.stem}.png" for f in files}
    seen: dict[Path, Path] = {}
    for src, dst in targets.items():
        if dst in seen:
            raise InvalidParameterError(
                f"{seen[dst]} and {src} would both be written to {dst}; degrade them in separate runs"
            )
        seen[dst] = src
    return targets


def _refuse_inputs(path: Path, inputs: list[Path]) -> None:
    if any(same_file(path, src) for src in inputs):
        raise InvalidParameterError(f"refusing to write {path}: it is one of the inputs")


def write_image(path: Path, image: np.ndarray, inputs: list[Path], force: bool) -> None:
    _refuse_inputs(path, inputs)
    write_image_file(path, image, overwrite=force)


def write_json(path: Path, data: dict[str, Any], inputs: list[Path], force: bool) -> None:
    _refuse_inputs(path, inputs)
    with atomic_output(path, overwrite=force) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _process(
    src: Path, dst: Path | None, args: argparse.Namespace, context: dict[str, Any], inputs: list[Path]
) -> str:
    image = read_image(src, max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))  # upright (EXIF)
    file_seed = derive_seed(args.seed, src.name)
    result = degrade(
        image,
        seed=file_seed,
        scale=args.scale,
        preset=args.preset,
        enabled=context["enabled"],
        overrides=context["overrides"],
    )
    has_alpha = image.ndim == 3 and image.shape[2] == 4
    sidecar = {
        "tool": f"realesrgan-kit {__version__}",
        "input": src.name,
        "seed": args.seed,
        "file_seed": file_seed,
        "scale": args.scale,
        "preset": args.preset,
        "overrides": context["overrides"],
        "settings": context["settings"],
        "alpha": "resized to the output size (area), not degraded" if has_alpha else None,
        "record": result.record.to_dict(),
    }
    written = []
    if dst is not None:
        write_image(dst, result.image, inputs, args.force)
        write_json(dst.with_name(dst.name + ".json"), dict(sidecar, output=dst.name), inputs, args.force)
        written.append(str(dst))
    if args.pairs is not None:
        scale = pair_scale(args.scale)
        boxes = aligned_crop_boxes(result.image.shape[0], result.image.shape[1], scale, args.crop)
        for n, (top, left, h, w) in enumerate(boxes):
            name = f"{src.stem}_{n:03d}.png"
            write_image(
                args.pairs / "hr" / name,
                image[top * scale : (top + h) * scale, left * scale : (left + w) * scale],
                inputs,
                args.force,
            )
            write_image(
                args.pairs / "lr" / name, result.image[top : top + h, left : left + w], inputs, args.force
            )
        crops = [
            {"name": f"{src.stem}_{n:03d}.png", "lr_box": list(b), "hr_box": [v * scale for v in b]}
            for n, b in enumerate(boxes)
        ]
        write_json(
            args.pairs / "records" / f"{src.stem}.json", dict(sidecar, crops=crops), inputs, args.force
        )
        written.append(f"{len(boxes)} pair(s) in {args.pairs}")
    return ", ".join(written)


def cmd_degrade(args: argparse.Namespace) -> int:
    if args.output is None and args.pairs is None:
        raise InvalidParameterError("nothing to write: give -o OUTPUT and/or --pairs DIR")
    if args.crop is not None and args.pairs is None:
        raise InvalidParameterError("--crop sets the size of --pairs crops; add --pairs DIR")
    overrides = _parse_overrides(args.overrides)
    check_scale(args.scale)
    settings = settings_from(args.preset, overrides)  # validate once, before any file is touched
    if args.pairs is not None:
        scale = pair_scale(args.scale)
        if args.crop is not None:
            check_hr_crop(args.crop, scale)
    files, from_folder = _collect_inputs(args.inputs)
    targets = _output_paths(files, args.output, from_folder)
    context = {
        "enabled": {s: not getattr(args, f"no_{s}") for s in STEPS},
        "overrides": overrides,
        "settings": settings.to_dict(),
    }
    failures = 0
    for src, dst in targets.items():
        try:
            done = _process(src, dst, args, context, files)
        except (RealESRGANKitError, OSError) as exc:
            failures += 1
            print(f"realesrgan-kit: error: {src}: {exc}", file=sys.stderr)
            continue
        if not getattr(args, "quiet", False):
            print(f"{src} -> {done}")
    if failures:
        print(f"realesrgan-kit: {failures} of {len(targets)} file(s) failed", file=sys.stderr)
        return 1
    return 0
