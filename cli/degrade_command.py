"""``degrade``: Real-ESRGAN's training degradation applied to your own images.

Each file's randomness is ``derive_seed(--seed, file name)``: re-running the same command on
the same files reproduces every output byte for byte, alone or inside a folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.degrade import STEPS, settings_from
from ..core.degrade.pairs import check_hr_crop, pair_scale
from ..core.degrade.sampling import check_scale
from ..core.errors import InvalidParameterError
from ..core.imagefile import DEFAULT_MAX_PIXELS
from ..core.imagefile.arrays import read_image
from ..core.options import DEGRADE_PRESETS
from . import job_options

__all__ = ["register", "cmd_degrade", "read_image"]

RAY_SHARD_SIZE = 8
"""Files per unit on Ray: fewer, larger units keep the scheduling cost per file small."""


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
    _add_sampling_arguments(p)
    _add_output_arguments(p)
    p.set_defaults(func=cmd_degrade)


def _add_sampling_arguments(p: argparse.ArgumentParser) -> None:
    """What is sampled: the seed, the scale, the preset's ranges, the steps switched off, overrides."""
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


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """What is written and how the files are run: pairs and crops, replacing, jobs, shards, pixel limit."""
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
    job_options.add_job_arguments(p)
    p.add_argument(
        "--shard-size",
        type=int,
        default=None,
        metavar="N",
        help=f"files per unit (default: 1, or {RAY_SHARD_SIZE} with --ray); seeds do not depend on it",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse images with more pixels than this, checked before decoding (default {DEFAULT_MAX_PIXELS:,})",
    )


def _parse_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(f"--set expects KEY=VALUE (e.g. noise_range=1,10); got {item!r}")
        overrides[key.strip()] = value
    return overrides


def cmd_degrade(args: argparse.Namespace) -> int:
    from ..core.jobs import DegradeOptions, plan_degrade_job, run_job

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
    executor = job_options.executor_for(args)
    on_cluster = executor is not None
    where = job_options.absolute if on_cluster else (lambda x: x)
    options = DegradeOptions(
        seed=args.seed,
        scale=args.scale,
        preset=args.preset,
        enabled={s: not getattr(args, f"no_{s}") for s in STEPS},
        overrides=overrides,
        settings=settings.to_dict(),
        pairs=None if args.pairs is None else str(where(args.pairs)),
        crop=args.crop,
        force=args.force,
        max_pixels=args.max_pixels,
    )
    shard_size = args.shard_size or (RAY_SHARD_SIZE if on_cluster else 1)
    job = plan_degrade_job(
        [where(i) for i in args.inputs],
        None if args.output is None else where(args.output),
        options,
        shard_size=shard_size,
        resume=args.resume,
        max_retries=args.retries,
    )
    quiet = getattr(args, "quiet", False)

    def report(outcome, counts) -> None:
        if outcome.status == "failed":
            print(f"realesrgan-kit: error: {outcome.unit.key}: {_message(outcome)}", file=sys.stderr)
        elif outcome.status == "done" and not quiet and not on_cluster:
            print(f"{outcome.unit.key} -> {outcome.message}")
        if on_cluster and not quiet:
            job_options.cluster_progress(outcome, counts)

    summary = run_job(job, executor, progress=report)
    if on_cluster:
        print(summary.line(), file=sys.stderr)
        job_options.print_nodes(summary)
    failures = len(summary.failed)
    if failures:
        what = "file(s)" if shard_size == 1 else "shard(s)"
        print(f"realesrgan-kit: {failures} of {len(job.units)} {what} failed", file=sys.stderr)
        return 1
    return 0


def _message(outcome) -> str:
    if outcome.exception is not None:
        return str(outcome.exception)
    return outcome.error or ""
