"""Options and progress lines shared by the commands that run jobs (``upscale``, ``degrade``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..core.jobs import DEFAULT_MAX_RETRIES, JobProgress, JobSummary, UnitOutcome
from ..core.jobs.storage import is_uri

LOCAL_RAY = ""  # `--ray` without an address


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("large jobs")
    group.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        default=None,
        metavar="ADDRESS",
        help="run on Ray: alone, a local Ray with this machine's CPUs (and GPUs); with an address "
        '(HOST:PORT, ray://HOST:PORT or auto), join that cluster. Needs: pip install "realesrgan-kit[ray]"',
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        help="with --ray: number of workers (default: what the cluster fits)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="skip inputs whose outputs all exist (finished by an earlier run)",
    )
    group.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_MAX_RETRIES,
        help=f"extra tries for a unit whose worker died or hit a transient error (default {DEFAULT_MAX_RETRIES})",
    )


def executor_for(args: argparse.Namespace) -> Any:
    """None (this process) or a RayExecutor; fails early with how to install Ray."""
    if args.ray is None:
        return None
    from ..core.jobs import RayExecutor, import_ray

    import_ray()
    return RayExecutor(args.ray or None, workers=args.workers)


def absolute(location: str | os.PathLike[str] | None) -> Any:
    """A path every worker reads the same way (workers may run in another folder)."""
    if location is None or is_uri(str(location)):
        return location
    return os.path.abspath(location)


def cluster_progress(outcome: UnitOutcome, counts: JobProgress) -> None:
    """One line per finished unit on stderr: where it ran, counts, throughput, ETA."""
    node = (outcome.node or "local")[:8]
    if outcome.status == "failed":
        print(f"realesrgan-kit: failed {outcome.unit.key}: {outcome.error}", file=sys.stderr)
    print(
        f"[{counts.finished}/{counts.total}] {outcome.unit.key}: {outcome.status}"
        + (f" on node {node}" if outcome.status == "done" else "")
        + f" · {counts.line()}",
        file=sys.stderr,
    )


def print_nodes(summary: JobSummary) -> None:
    nodes = summary.nodes
    if nodes:
        spread = ", ".join(f"{node[:8]}: {n}" for node, n in sorted(nodes.items()))
        print(f"units per node: {spread}", file=sys.stderr)
