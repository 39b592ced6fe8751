"""Ray benchmark: one table, ratios against the single-process CLI measured in the same run.

    python benchmarks/bench_ray.py            # 1536 photo crops of 128×128 (job API rows: the first 256), 400 no-op units (~8 min quiet)
    python benchmarks/bench_ray.py --quick    # 12 crops of 48×48, 60 no-op units

A folder of small crops of tests/data/gt/baboon.png is upscaled ×4 with the embedded
realesr-animevideov3 (offline) by:

- today's single-process CLI (``realesrgan-kit upscale DIR -o OUT``, a fresh process, all
  threads): the reference;
- the same CLI with ``--ray --workers 2`` (a fresh process that starts and stops a local Ray);
- the job API on a local Ray started by this script (2 CPUs, 200 MB object store): 1 worker ×
  1 thread and 2 workers × 1 thread, on the first ``--api-images`` crops. "steady units/s"
  counts from the moment every worker has finished its first unit (actor start-up and model
  load excluded); "wall s" includes them.

Why 1536 crops: a local Ray costs a fixed ~12 s here (import, start of its eight processes,
actor start, shutdown: all CPU work on the same 2 cores), while two 1-thread workers gain only
about 13 % per image over one 2-thread process; the CLI row only pays off on a job long enough
to amortise that start. The table says where the break-even lies.

Every output folder is compared byte for byte with the reference's. The scheduling overhead is
measured with no-op units on one warm worker: (last − first completion) ÷ (units − 1).
Floors (issue 14): 2 workers ≥ 1.6× one worker (steady), overhead ≤ 50 ms per unit, the 2-worker
CLI job no slower than the single-process CLI, byte-identical outputs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import cpu_class, import_package

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "gt" / "baboon.png"
MODEL = "realesr-animevideov3"


def make_folder(folder: Path, count: int, size: int) -> None:
    import cv2

    photo = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    if photo is None:
        raise SystemExit(f"cannot read {PHOTO}")
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for n in range(count):
        top, left = (int(v) for v in rng.integers(0, min(photo.shape[:2]) - size, 2))
        cv2.imwrite(str(folder / f"{n:04d}.png"), photo[top : top + size, left : left + size])


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def run_cli(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "realesrgan_kit", "-q", *args], check=True, env=env, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


@dataclass(frozen=True)
class NoopSpec:
    """A worker whose units do nothing: what is left is the scheduling cost."""

    def resources(self):
        return importlib.import_module("realesrgan_kit.core.jobs").WorkerResources(cpus=1.0, gpus=0.0)

    def start(self):
        return lambda unit, progress=None, attempt=1: unit.key


def timed_job(job, executor) -> tuple[float, list[tuple[float, str]]]:
    """Wall seconds, and (time, worker) of every finished unit."""
    run_job = importlib.import_module("realesrgan_kit.core.jobs").run_job
    stamps: list[tuple[float, str]] = []
    started = time.perf_counter()
    summary = run_job(
        job,
        executor,
        progress=lambda outcome, counts: stamps.append((time.perf_counter(), outcome.worker or "")),
    )
    if not summary.ok:
        raise SystemExit(f"benchmark job failed: {[o.error for o in summary.failed][:3]}")
    return time.perf_counter() - started, stamps


def steady_rate(stamps: list[tuple[float, str]]) -> float:
    """Units per second once every worker has finished its first unit (start-up and model
    load of the slowest-starting worker excluded)."""
    firsts: dict[str, float] = {}
    for when, worker in stamps:
        firsts.setdefault(worker, when)
    begin = max(firsts.values())
    after = [when for when, _ in stamps if when > begin]
    if not after:
        return float("nan")
    return len(after) / (after[-1] - begin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small folder (checks the script end to end)")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument(
        "--api-images", type=int, default=None, help="crops for the job API rows (default 256)"
    )
    parser.add_argument("--noop-units", type=int, default=None)
    args = parser.parse_args(argv)
    # full: enough work that Ray's start (a few seconds) is small beside it, as in a real job
    count = args.images or (12 if args.quick else 1536)
    api_count = min(count, args.api_images or (12 if args.quick else 256))
    size = args.size or (48 if args.quick else 128)
    noops = args.noop_units or (60 if args.quick else 400)

    package = import_package()
    assert package.__file__ is not None
    link_dir = str(Path(package.__file__).parent.parent)  # the folder that makes `import realesrgan_kit` work
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [link_dir, str(Path(__file__).parent), env.get("PYTHONPATH")])
    )
    os.environ["PYTHONPATH"] = env[
        "PYTHONPATH"
    ]  # Ray workers inherit it: they import the package and NoopSpec

    jobs = importlib.import_module("realesrgan_kit.core.jobs")
    Job, RayExecutor, Unit, plan_upscale_job = jobs.Job, jobs.RayExecutor, jobs.Unit, jobs.plan_upscale_job
    load_model = importlib.import_module("realesrgan_kit.core.load").load_model

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        src = work / "in"
        make_folder(src, count, size)
        api_src = work / "api_in"  # the first api_count crops, for the job API rows
        api_src.mkdir()
        for path in sorted(src.iterdir())[:api_count]:
            os.link(path, api_src / path.name)
        load_model(MODEL)  # converts the embedded weights into the cache once, outside every timing

        ref_out = work / "cli"
        ref_s = run_cli(["upscale", str(src), "-o", str(ref_out), "--model", MODEL], env)
        reference = folder_bytes(ref_out)
        rows.append(
            ("single-process CLI (reference)", f"{ref_s:.2f}", f"{count / ref_s:.2f}", "1.00×", "yes")
        )

        cli_ray_out = work / "cli_ray"
        cli_ray_s = run_cli(
            ["upscale", str(src), "-o", str(cli_ray_out), "--model", MODEL, "--ray", "--workers", "2"], env
        )
        same = "yes" if folder_bytes(cli_ray_out) == reference else "NO"
        rows.append(
            (
                "CLI --ray --workers 2 (starts its own Ray)",
                f"{cli_ray_s:.2f}",
                f"{count / cli_ray_s:.2f}",
                f"{ref_s / cli_ray_s:.2f}×",
                same,
            )
        )

        import ray

        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=200 * 2**20,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
        try:
            rates = {}
            for workers in (1, 2):
                out = work / f"ray{workers}"
                job, _ = plan_upscale_job([str(api_src)], str(out), model_source=MODEL, threads=1)
                wall, stamps = timed_job(job, RayExecutor(workers=workers))
                rates[workers] = steady_rate(stamps)
                made = folder_bytes(out)
                same = (
                    "yes"
                    if made == {name: reference[name] for name in made} and len(made) == api_count
                    else "NO"
                )
                rows.append(
                    (
                        f"job API on Ray, {workers} worker(s) × 1 thread, first {api_count} crops",
                        f"{wall:.2f}",
                        f"{rates[workers]:.2f} steady",
                        "–",
                        same,
                    )
                )
            units = [Unit(f"noop{n}", "image", (), (str(work / f"never{n}"),)) for n in range(noops)]
            _wall, stamps = timed_job(Job(units, NoopSpec()), RayExecutor(workers=1))
            overhead_ms = 1000 * (stamps[-1][0] - stamps[0][0]) / (len(stamps) - 1)
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    scaling = rates[2] / rates[1]
    fixed_s = cli_ray_s - count / rates[2]  # what the CLI --ray run spent beyond its workers' steady work
    per_image_gain = ref_s / count - 1 / rates[2]
    label = cpu_class()
    print(
        f"# Ray benchmark ({'quick' if args.quick else 'full'}): {count} crops of {size}×{size}, {MODEL} ×4, CPU class {label}, {os.cpu_count()} logical CPUs\n"
    )
    print("| CPU | path | wall s | units/s | speed vs CLI (wall) | same bytes as CLI |")
    print("|---|---|---:|---:|---:|---|")
    for row in rows:
        print(f"| {label} | " + " | ".join(row) + " |")
    print()
    print("| CPU | floor | measured | pass |")
    print("|---|---|---:|---|")
    print(
        f"| {label} | 2 workers × 1 thread ≥ 1.6× 1 worker × 1 thread (steady) | {scaling:.2f}× | {'yes' if scaling >= 1.6 else 'no'} |"
    )
    print(
        f"| {label} | scheduling overhead ≤ 50 ms per unit ({noops} no-op units, 1 warm worker) | {overhead_ms:.1f} ms | {'yes' if overhead_ms <= 50 else 'no'} |"
    )
    print(
        f"| {label} | 2-worker CLI job no slower than the single-process CLI | {cli_ray_s:.2f} s vs {ref_s:.2f} s | {'yes' if cli_ray_s <= ref_s else 'no'} |"
    )
    print(
        f"| {label} | CLI --ray: start-up and shutdown (process, Ray, workers) beyond the workers' steady work, and the folder size where it breaks even with the single-process CLI | "
        f"{fixed_s:.1f} s; "
        + (f"~{fixed_s / per_image_gain:.0f} crops" if per_image_gain > 0 else "never (no gain per image)")
        + " | – |"
    )
    identical = all(row[4] == "yes" for row in rows)
    print(
        f"| {label} | byte-identical outputs | {'all rows' if identical else 'NOT all rows'} | {'yes' if identical else 'no'} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
