"""Fuzz the parsers for a while and print executions, findings and the slowest input per target.

    python -m tests.fuzz.run --seconds 600                    # every target, 600 s each, atheris
    python -m tests.fuzz.run --seconds 60 --targets ncnn,image
    python -m tests.fuzz.run --engine mutate --seconds 30     # no atheris: the plain mutator

Run from the repository root. atheris (coverage-guided, libFuzzer) runs each target in its own
process with ``-timeout=5`` (an input taking over 5 s is a hang) and a 3 GB RSS limit; a
finding stops that target and its input is saved under ``--artifacts`` (copy it into
``tests/data/fuzz/<target>/regress-<name>`` once fixed). Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def ensure_importable() -> str:
    """Make ``realesrgan_kit`` (this checkout, not an installed copy) and ``support`` importable.

    Returns the PYTHONPATH that gives subprocesses the same view (as ``tests/conftest.py`` does).
    """
    module = sys.modules.get("realesrgan_kit")
    if module is not None and Path(module.__file__ or "").resolve().parent == ROOT:
        base = ""
    else:
        folder = Path(tempfile.mkdtemp(prefix="realesrgan-kit-import-"))
        (folder / "realesrgan_kit").symlink_to(ROOT, target_is_directory=True)
        sys.path.insert(0, str(folder))
        base = str(folder)
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return os.pathsep.join(filter(None, [base, str(TESTS), str(ROOT.parent), os.environ.get("PYTHONPATH")]))


def _seed_inputs(target: str) -> list[bytes]:
    from .corpus import generated_seeds, saved_corpus

    return generated_seeds(target) + [data for _, data in saved_corpus(target)]


def run_mutate(target: str, seconds: float, seed: int = 0, iterations: int | None = None) -> dict:
    """The plain mutator in this process: returns executions, findings and the slowest input time."""
    from .mutate import mutate
    from .targets import run_one

    seeds = _seed_inputs(target)
    rng = random.Random(seed)
    findings: list[str] = []
    executions, slowest = 0, 0.0
    deadline = time.monotonic() + seconds
    while (iterations is None or executions < iterations) and time.monotonic() < deadline:
        data = seeds[executions] if executions < len(seeds) else mutate(rng.choice(seeds), rng, seeds)
        started = time.perf_counter()
        try:
            run_one(target, data)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            finding = f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno}: {str(exc)[:120]}"
            if finding not in findings:
                findings.append(finding)
                _save_finding(target, data)
        slowest = max(slowest, time.perf_counter() - started)
        executions += 1
    return {"target": target, "executions": executions, "findings": findings, "slowest_s": slowest}


def _save_finding(target: str, data: bytes) -> None:
    folder = Path(tempfile.gettempdir()) / "realesrgan-kit-fuzz-findings" / target
    folder.mkdir(parents=True, exist_ok=True)
    import hashlib

    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def run_atheris(target: str, seconds: int, artifacts: Path, pythonpath: str) -> dict:
    """One atheris process for ``target``; parses libFuzzer's summary."""
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-corpus-{target}-"))
    for index, data in enumerate(_seed_inputs(target)):
        (corpus / f"seed-{index}").write_bytes(data)
    artifacts.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_main",
        target,
        f"-max_total_time={seconds}",
        "-timeout=5",
        "-rss_limit_mb=3000",
        "-max_len=262144",
        f"-artifact_prefix={artifacts}/{target}-",
        "-print_final_stats=1",
        str(corpus),
    ]
    env = dict(os.environ, PYTHONPATH=pythonpath)
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, errors="replace")
    elapsed = time.monotonic() - started
    shutil.rmtree(corpus, ignore_errors=True)
    log = proc.stderr + proc.stdout
    done = re.findall(r"Done (\d+) runs", log)
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log) or re.findall(r"#(\d+)\s", log)
    executions = int(done[-1]) if done else (int(runs[-1]) if runs else 0)
    findings = []
    if proc.returncode != 0:
        tail = [
            line for line in log.splitlines() if "Exception" in line or "ERROR" in line or "Error" in line
        ]
        findings.append(" | ".join(tail[-4:])[:600] or f"exit status {proc.returncode}")
        (artifacts / f"{target}.log").write_text(log[-20000:])
    return {"target": target, "executions": executions, "findings": findings, "seconds": round(elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    from .targets import TARGETS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument(
        "--targets", default=",".join(TARGETS), help=f"comma-separated ({', '.join(TARGETS)})"
    )
    parser.add_argument(
        "--engine", choices=("atheris", "mutate"), default=None, help="default: atheris if installed"
    )
    parser.add_argument("--artifacts", type=Path, default=Path(tempfile.gettempdir()) / "realesrgan-kit-fuzz")
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # libtiff's complaints about fuzzed files
    pythonpath = ensure_importable()
    engine = args.engine
    if engine is None:
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "mutate"
    failed = False
    print("| target | engine | executions | seconds | findings |\n|---|---|---:|---:|---|", flush=True)
    for target in args.targets.split(","):
        if engine == "atheris":
            result = run_atheris(target, args.seconds, args.artifacts, pythonpath)
        else:
            started = time.monotonic()
            result = run_mutate(target, args.seconds, seed=int(time.time()))
            result["seconds"] = round(time.monotonic() - started, 1)
            if result["slowest_s"] > 5:
                result["findings"].append(f"slowest input took {result['slowest_s']:.1f} s (> 5 s: a hang)")
        failed |= bool(result["findings"])
        print(
            f"| {target} | {engine} | {result['executions']} | {result['seconds']} | "
            f"{'; '.join(result['findings']) or 'none'} |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
