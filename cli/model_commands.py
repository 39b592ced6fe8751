"""``models``, ``info``, ``convert`` and ``download``: the model side of the CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core.errors import InvalidParameterError
from ..core.fileio import same_file
from ..core.known_models import known_models
from ..core.load import get_spec, load_model, save_safetensors
from ..core.zoo import download


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list the known models and where each is available")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--markdown",
        action="store_true",
        help="the README's generated 'Models and formats' section: zoo, loadable networks, formats",
    )
    p.set_defaults(func=cmd_models)

    p = subparsers.add_parser("info", help="detect a weights file's architecture and hyperparameters")
    p.add_argument("source", help="a weights file (.pth, .safetensors, ncnn .param/.bin) or a model name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("convert", help="convert any supported weights to .safetensors with metadata")
    p.add_argument("source", help="a weights file or a model name")
    p.add_argument("output", help="the .safetensors file to write")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=cmd_convert)

    p = subparsers.add_parser("download", help="download an official model (checked against its SHA-256)")
    p.add_argument("name", help="a model name from 'realesrgan-kit models'")
    p.add_argument("--dir", type=Path, default=None, help="target folder (default: the user model folder)")
    p.add_argument("--url", default=None, help="a mirror address instead of the official one")
    p.add_argument("--sha256", default=None, help="the expected checksum, where the zoo knows none")
    p.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    p.set_defaults(func=cmd_download)


def _parameter_count(architecture: str, hyperparameters: dict) -> int:
    import torch

    with torch.device("meta"):
        module = get_spec(architecture).build(hyperparameters)
    return sum(p.numel() for p in module.parameters())


def cmd_models(args: argparse.Namespace) -> int:
    if args.markdown:
        from ..core.catalog import models_and_formats_markdown

        print(models_and_formats_markdown(), end="")
        return 0
    models = known_models()
    rows = [
        {
            "name": e.name,
            "architecture": e.architecture,
            "scale": e.scale,
            "parameters": _parameter_count(e.architecture, dict(e.hyperparameters)),
            "available": models.available_at(e),
            "description": e.description,
        }
        for e in models.zoo
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    header = f"{'name':<28} {'architecture':<16} {'scale':>5} {'params':>8}  available"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<28} {r['architecture']:<16} {'x' + str(r['scale']):>5} {r['parameters'] / 1e6:>7.2f}M  {r['available']}"
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    descriptor = load_model(args.source)
    summary = descriptor.summary()
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
        return 0
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:<{width}}  {value}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix != ".safetensors":
        raise InvalidParameterError(f"the output must end in .safetensors, got {output.name}")
    if same_file(args.source, output):
        raise InvalidParameterError(f"{output} is the input; choose another output path")
    descriptor = load_model(args.source)
    save_safetensors(descriptor, output, overwrite=args.force)
    print(
        f"wrote {output} ({descriptor.architecture}, x{descriptor.scale}, {descriptor.parameter_count:,} parameters)"
    )
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        if total:
            print(f"\r{done / 1e6:7.1f} / {total / 1e6:.1f} MB", end="", file=sys.stderr, flush=True)

    path = download(
        args.name,
        dest_dir=args.dir,
        url=args.url,
        sha256=args.sha256,
        overwrite=args.force,
        progress=progress,
    )
    print(file=sys.stderr)
    print(f"verified and saved: {path}")
    return 0
