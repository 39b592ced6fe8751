"""``finetune``: train a Real-ESRGAN generator further on your own images.

Options left out take the official Real-ESRGAN values, or, with ``--resume``, the run's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import InvalidParameterError

__all__ = ["register", "cmd_finetune", "ProgressLine"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..core.options import DEGRADE_PRESETS, TRAIN_PRECISIONS
    from ..core.train.finetune_settings import EXPORT_CHOICES, GT_TARGETS, PERCEPTUAL_CHOICES, STAGES

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a Real-ESRGAN model on your images (Net stage: L1; GAN stage: + perceptual + GAN)",
        description="Fine-tune an RRDBNet or SRVGGNetCompact model. HR images are degraded on the fly with "
        "Real-ESRGAN's second-order pipeline (or give aligned pairs with --pairs). Writes RUN_DIR/run.json, "
        "checkpoints (safetensors), losses.jsonl, validation images and model.safetensors, which loads "
        "wherever a model does (upscale --model, ComfyUI, the notebook tuner).",
    )
    p.add_argument(
        "hr_folder", nargs="?", type=Path, metavar="HR_FOLDER", help="folder of high-resolution images"
    )
    p.add_argument("--model", default=None, help="starting model: a zoo name or a weights file (required)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="RUN_DIR", help="the run folder")
    p.add_argument(
        "--pairs", type=Path, metavar="DIR", help="aligned pairs DIR/hr + DIR/lr (degrade --pairs)"
    )
    p.add_argument("--stage", choices=STAGES, help="net (L1 only; default) or gan (+ perceptual + GAN)")
    p.add_argument(
        "--iters", type=int, dest="iterations", metavar="N", help="total iterations (default 1000)"
    )
    p.add_argument("--batch", type=int, dest="batch_size", metavar="B", help="batch size (default 12)")
    p.add_argument("--patch", type=int, dest="patch_size", metavar="P", help="HR crop side (default 256)")
    p.add_argument(
        "--lr",
        type=float,
        help="generator learning rate (default 2e-4 net, 1e-4 gan, the official ones; on a few images "
        "2e-5 held its gain where 2e-4 drifted back, see the README)",
    )
    p.add_argument("--lr-d", type=float, dest="lr_discriminator", help="discriminator learning rate (1e-4)")
    p.add_argument(
        "--gt",
        dest="gt_target",
        choices=GT_TARGETS,
        help="L1/perceptual target: sharpened (USM, the official recipe; default) or plain "
        "(highest PSNR against the original images)",
    )
    p.add_argument("--ema", type=float, dest="ema_decay", help="EMA decay of the generator (0.999)")
    p.add_argument("--perceptual", choices=PERCEPTUAL_CHOICES, help="GAN stage: VGG19 perceptual loss or off")
    p.add_argument("--vgg-weights", type=Path, metavar="PATH", help="torchvision's vgg19-dcbb9e9d.pth")
    p.add_argument(
        "--download-vgg", action="store_true", help="download the VGG19 weights (needs --vgg-sha256)"
    )
    p.add_argument("--vgg-sha256", metavar="HEX", help="the full SHA-256 you trust for the VGG19 download")
    p.add_argument("--discriminator", metavar="MODEL", help="initial discriminator weights (default: new)")
    p.add_argument("--seed", type=int, help="run seed (default 0)")
    p.add_argument("--workers", type=int, dest="num_workers", help="DataLoader workers (default 0)")
    p.add_argument("--precision", choices=TRAIN_PRECISIONS, help="autocast format (default auto)")
    p.add_argument(
        "--threads", type=int, help="CPU threads for PyTorch (a resumed run repeats bitwise with the same)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best one)")
    p.add_argument("--val-every", type=int, dest="val_every", metavar="K", help="validate every K iterations")
    p.add_argument("--val-folder", type=Path, metavar="DIR", help="held-out HR images for validation")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every", metavar="K", help="(default 500)")
    p.add_argument("--pool", type=int, dest="pool_size", help="training pair pool size (default 180, 0: off)")
    p.add_argument("--export", choices=EXPORT_CHOICES, help="generator in model.safetensors (default ema)")
    p.add_argument(
        "--degradation",
        dest="degradation_preset",
        choices=DEGRADE_PRESETS,
        help="degradation preset (default realesrgan)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint"
    )
    p.set_defaults(func=cmd_finetune)


_SETTING_ARGS = (
    "stage",
    "iterations",
    "batch_size",
    "patch_size",
    "lr",
    "lr_discriminator",
    "ema_decay",
    "perceptual",
    "seed",
    "num_workers",
    "precision",
    "val_every",
    "checkpoint_every",
    "pool_size",
    "export",
    "degradation_preset",
)


def _settings(args: argparse.Namespace) -> Any:
    from ..core.train import TrainSettings

    base = TrainSettings()
    run_file = args.output / "run.json"
    if args.resume and run_file.is_file():
        try:
            base = TrainSettings.from_dict(json.loads(run_file.read_text(encoding="utf-8"))["settings"])
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("could not read the settings of %s (%s); using the defaults", run_file, exc)
    given = {name: getattr(args, name) for name in _SETTING_ARGS if getattr(args, name) is not None}
    settings = base.replace(**given)
    return settings.with_gt_target(args.gt_target) if args.gt_target is not None else settings


def _format_seconds(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressLine:
    """``iter 120/1000 [####------] l1 0.0312 gan 0.07 | 1.9 it/s | ETA 7m43s`` on a terminal,
    a plain line every ~2 % of the run otherwise (logs, CI)."""

    def __init__(self, stream: TextIO | None = None, width: int = 20) -> None:
        self.stream, self.width = stream or sys.stderr, width
        self.tty = self.stream.isatty()
        self.last_line = 0.0

    def __call__(self, progress: Any) -> None:
        done, total = progress.iteration, progress.iterations
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        losses = " ".join(f"{k} {v:.4g}" for k, v in progress.losses.items() if k != "total")
        text = (
            f"iter {done}/{total} [{bar}] {losses} | {progress.iterations_per_second:.2f} it/s"
            f" | ETA {_format_seconds(progress.eta_seconds)}"
        )
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K" + ("\n" if done >= total else ""))
            self.stream.flush()
            return
        now = time.monotonic()
        if done >= total or done == 1 or done % max(1, total // 50) == 0 or now - self.last_line > 30:
            self.last_line = now
            self.stream.write(text + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(("\n" if self.tty else "") + text + "\n")
        self.stream.flush()


def cmd_finetune(args: argparse.Namespace) -> int:
    from ..core.train.vgg import download_vgg19

    if args.model is None:
        raise InvalidParameterError("--model is required: the zoo name or weights file to start from")
    if (args.hr_folder is None) == (args.pairs is None):
        raise InvalidParameterError(
            "give HR_FOLDER (degraded on the fly) or --pairs DIR, not both and not neither"
        )
    settings = _settings(args)
    if args.threads is not None:
        if args.threads < 1:
            raise InvalidParameterError(f"--threads must be at least 1; got {args.threads}")
        from ..core.engine.threads import set_process_threads

        set_process_threads(args.threads)  # this command's own process
    vgg_weights = args.vgg_weights
    if args.download_vgg:
        if not args.vgg_sha256:
            raise InvalidParameterError("--download-vgg needs --vgg-sha256 HEX (the full SHA-256 you trust)")
        vgg_weights = download_vgg19(args.vgg_sha256)
    quiet = getattr(args, "quiet", False)
    bar = ProgressLine()

    def on_validation(report: Any) -> None:
        if not quiet:
            bar.note(
                f"validation at {report.iteration}: PSNR {report.psnr_raw:.3f} dB "
                f"(EMA {report.psnr_ema:.3f}, start {report.psnr_start:.3f})"
                + (f" → {report.path}" if report.path else "")
            )

    try:
        result = _run(args, settings, vgg_weights, None if quiet else bar, on_validation)
    except KeyboardInterrupt:
        from ..core.train.checkpoint import latest_checkpoint

        kept = latest_checkpoint(args.output)
        where = f"the checkpoint at iteration {kept[0]} is kept" if kept else "no checkpoint was written yet"
        print(f"realesrgan-kit: interrupted; {where}; continue with --resume", file=sys.stderr)
        return 130
    if not quiet:
        print(f"{result.run_dir}: {result.iteration} iterations; model → {result.model_path}")
    return 0


def _run(args: argparse.Namespace, settings: Any, vgg_weights: Any, progress: Any, on_validation: Any) -> Any:
    from ..core.load import load_model
    from ..core.train import finetune

    return finetune(
        load_model(args.model),
        args.output,
        hr_folder=args.hr_folder,
        pairs=args.pairs,
        settings=settings,
        resume=args.resume,
        device=args.device,
        val_folder=args.val_folder,
        vgg_weights=vgg_weights,
        discriminator=args.discriminator,
        progress=progress,
        on_validation=on_validation,
    )
