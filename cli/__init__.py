"""The ``realesrgan-kit`` command line: a thin adapter over ``core``.

Each command module exposes ``register(subparsers)``; the list below is the whole CLI.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ..core.errors import RealESRGANKitError
from ..core.version import __version__
from . import degrade_command, finetune_command, model_commands, upscale_command

__all__ = ["main", "build_parser"]

COMMAND_MODULES = (model_commands, upscale_command, degrade_command, finetune_command)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realesrgan-kit",
        description="Real-ESRGAN super-resolution: models, upscaling and degradations.",
    )
    parser.add_argument("--version", action="version", version=f"realesrgan-kit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (
        logging.ERROR if args.quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    )
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    try:
        return int(args.func(args) or EXIT_OK)
    except RealESRGANKitError as exc:
        print(f"realesrgan-kit: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except FileNotFoundError as exc:
        print(f"realesrgan-kit: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `realesrgan-kit models | head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(
            "realesrgan-kit: interrupted; nothing partial was written "
            "(a video keeps its finished chunks: run the same command with --resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
