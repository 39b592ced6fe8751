"""``backend="auto"``: the fastest backend meeting the quality floor, measured once per machine and model.

The measurement runs each candidate (torch fp32, torch in the precision it would pick, OpenVINO
fp32, and OpenVINO bf16 where the CPU has it) on ``MEASURE_WINDOWS`` sample window of
``MEASURE_SIDE``² (ours, ``samples.py``) with the job's thread count, after one warm-up each,
in ``MEASURE_ROUNDS`` rounds that take the candidates in turn (a burst of load elsewhere then
hits every candidate alike, and the best round counts). 128² rather than smaller windows:
on a quiet 2-core CPU OpenVINO won 64² windows by 2–9 % and then lost whole 128² jobs (x4plus
fp32 3.65 s against torch's 3.10 s; realesr-animevideov3 bf16 115 ms against 70 ms a 128²
image). The fastest candidate whose PSNR against torch fp32 is at least ``QUALITY_FLOOR_DB``
wins, where a backend other than torch must be at least ``SWITCH_MARGIN`` faster than the
best torch candidate (a near tie stays on torch). It costs the one-time OpenVINO conversion
(about a minute for RealESRGAN_x4plus on 2 cores, cached for later runs) plus four forwards of
one window per candidate.

The measurements are stored in ``<backend cache>/choices.json`` keyed by CPU class, weights
hash, torch and OpenVINO versions, the requested precision, the thread count and the
measurement's own version; the decision is derived from the stored seconds and PSNRs whenever
it is read, so a changed rule applies to old measurements too. Thread count is part of the key
because the ranking changes with it: a Ray worker or a ``--threads 1`` job is not a
2-thread job.

Re-run: ``measure_backends(model, remeasure=True)`` (CLI: ``--remeasure-backend``), or delete
that file. Override: pass ``backend="torch"`` or ``"openvino"``. Jobs smaller than
``MEASURE_MIN_PIXELS`` never trigger the measurement (they use a stored decision, else torch):
measuring would cost more than it could save. int8 is never picked by ``auto``: its measured
quality is below the floor (see docs/engine.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, TypeGuard

import torch

from ...errors import BackendError
from ...load.modellike import UpscaleModelLike
from ..modelinfo import ModelFacts, model_facts
from ..threads import torch_threads
from .backend_registry import BACKEND_TYPES
from .machine import backend_cache_dir, cpu_class, read_json, weights_hash, write_json_atomic
from .samples import sample_windows

__all__ = [
    "BackendChoice",
    "choose_backend",
    "measure_backends",
    "cached_choice",
    "choices_path",
    "QUALITY_FLOOR_DB",
    "SWITCH_MARGIN",
    "MEASURE_MIN_PIXELS",
    "NOT_MEASURED_YET",
]

log = logging.getLogger(__name__)

NOT_MEASURED_YET = "small job, not measured yet"
"""The one reason that a larger job (which may measure) can change: every other answer of
:func:`choose_backend` is final for the model, precision request and machine."""

QUALITY_FLOOR_DB = 45.0
"""Least PSNR (dB) against torch fp32 for ``auto`` to use a backend/precision pair."""
MEASURE_MIN_PIXELS = 512 * 512
"""Input pixels a job needs before ``auto`` spends a measurement on an unknown model."""
SWITCH_MARGIN = 0.15
"""How much faster than the best torch candidate another backend must measure to be chosen."""
MEASURE_SIDE = 128
MEASURE_WINDOWS = 1
MEASURE_ROUNDS = 3
MEASUREMENT_VERSION = 2
"""Bumped when the measurement changes, so entries measured the old way are measured again."""


@dataclass(frozen=True)
class BackendChoice:
    backend: str
    precision: str
    reason: str
    """Why: 'measured', 'stored decision', 'not a CPU', 'openvino not installed', 'small job', ..."""


def choices_path() -> Any:
    return backend_cache_dir() / "choices.json"


def _versions() -> str:
    ov = BACKEND_TYPES["openvino"]
    ov_version = "none"
    if ov.available():
        from .openvino_backend import openvino_version

        ov_version = openvino_version()
    return f"torch {torch.__version__.split('+')[0]}|openvino {ov_version}"


def _thread_count(threads: int | None) -> int:
    return threads if threads is not None else torch.get_num_threads()


def _key(facts: ModelFacts, precision: str, threads: int | None, digest: str | None = None) -> str:
    return (
        f"{cpu_class()}|{digest or weights_hash(facts.module)}|{_versions()}|{precision}"
        f"|threads {_thread_count(threads)}|m{MEASUREMENT_VERSION}"
    )


def _candidates(facts: ModelFacts, precision: str, device: torch.device) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, backend in BACKEND_TYPES.items():
        if not backend.available():
            continue
        wanted = ["fp32", "bf16"] if precision == "auto" and name == "openvino" else [precision]
        for request in wanted:
            try:
                pair = (name, backend.resolve_precision(facts, request, device))
            except Exception as exc:  # a pair this backend cannot run is simply not a candidate
                log.debug("not a candidate: %s %s (%s)", name, request, exc)
                continue
            if pair[1] == "bf16" and request == "bf16" and name == "openvino":
                from ..precision import cpu_has_fast_bf16

                if not cpu_has_fast_bf16():
                    continue
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(1.0 / mse)).item()


def _time_candidates(
    facts: ModelFacts, labels: list[str], windows: list[torch.Tensor], threads: int | None
) -> tuple[dict[str, float], dict[str, list[torch.Tensor]], dict[str, str]]:
    """Best-round seconds and outputs per ``"backend precision"`` label, and the labels that
    could not run (with why). The rounds take the candidates in turn."""
    runners: dict[str, Any] = {}
    failures: dict[str, str] = {}
    outputs: dict[str, list[torch.Tensor]] = {}
    seconds: dict[str, float] = {}
    with torch_threads(threads), torch.inference_mode():
        for label in labels:
            name, precision = label.split(" ")
            try:
                runner = BACKEND_TYPES[name].open(
                    facts, precision, torch.device("cpu"), tta=False, threads=threads
                )
                outputs[label] = [runner(w) for w in windows]  # warm-up: kernel selection, first allocations
            except BackendError as exc:
                if name == "torch":
                    raise
                failures[label] = str(exc)
                log.warning("backend measurement: %s cannot run this model (%s)", label, exc)
                continue
            runners[label] = runner
        for _ in range(MEASURE_ROUNDS):
            for label, runner in runners.items():
                started = time.perf_counter()
                for w in windows:
                    runner(w)
                seconds[label] = min(seconds.get(label, float("inf")), time.perf_counter() - started)
    return seconds, outputs, failures


def measure_backends(
    model: UpscaleModelLike | ModelFacts,
    precision: str = "auto",
    *,
    remeasure: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Measure every candidate on this machine for ``model`` and store the decision.

    Returns the stored entry: ``backend``, ``precision``, ``seconds`` and ``psnr`` per candidate
    (``"name precision"`` keys), ``cpu`` and ``measured_at``. A stored entry is returned as is
    unless ``remeasure``.
    """
    facts = model if isinstance(model, ModelFacts) else model_facts(model)
    device = torch.device("cpu")
    path = choices_path()
    key = _key(facts, precision, threads)
    if not remeasure:
        stored = read_json(path).get(key)
        if _is_measurement(stored):
            return dict(stored, **_decide(stored))
    windows = sample_windows(facts.input_channels, MEASURE_SIDE, MEASURE_WINDOWS, multiple=facts.multiple_of)
    started = time.perf_counter()
    labels = ["torch fp32"]
    for name, used in _candidates(facts, precision, device):
        if f"{name} {used}" not in labels:
            labels.append(f"{name} {used}")
    seconds, outputs, failures = _time_candidates(facts, labels, windows, threads)
    reference = outputs["torch fp32"]
    if precision not in ("auto", "fp32"):  # the reference is timed, but only a candidate when asked for
        del seconds["torch fp32"]
    quality = {
        label: min(_psnr(o, r) for o, r in zip(outputs[label], reference, strict=True))
        for label in seconds
        if label != "torch fp32"
    }
    if "torch fp32" in seconds:
        quality["torch fp32"] = float("inf")  # exact by definition
    entry: dict[str, Any] = {
        "seconds": seconds,
        "psnr": {k: (round(v, 2) if v != float("inf") else "exact") for k, v in quality.items()},
        "failed": failures,
        "cpu": cpu_class(),
        "threads": _thread_count(threads),
        "window": f"{MEASURE_WINDOWS}×{windows[0].shape[-1]}²",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "measurement_seconds": round(time.perf_counter() - started, 2),
    }
    entry.update(_decide(entry))
    data = read_json(path)
    data[key] = entry
    write_json_atomic(path, data)
    log.info(
        "backend auto: measured %s in %.1f s at %d thread(s); using %s %s (stored in %s)",
        ", ".join(f"{k} {v:.3f}s" for k, v in seconds.items()),
        entry["measurement_seconds"],
        entry["threads"],
        entry["backend"],
        entry["precision"],
        path,
    )
    return entry


def _is_measurement(stored: Any) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(stored, dict)
        and isinstance(stored.get("seconds"), dict)
        and isinstance(stored.get("psnr"), dict)
    )


def _decide(entry: dict[str, Any]) -> dict[str, str]:
    """The backend and precision a stored measurement chooses under today's rules."""
    seconds: dict[str, float] = {
        k: float(v) for k, v in entry["seconds"].items() if k.split(" ")[0] in BACKEND_TYPES
    }
    psnr = {k: float("inf") if v == "exact" else float(v) for k, v in entry["psnr"].items()}
    good = [label for label in seconds if psnr.get(label, 0.0) >= QUALITY_FLOOR_DB]
    backend, used = _winner(good, seconds).split(" ")
    return {"backend": backend, "precision": used}


def _winner(good: list[str], seconds: dict[str, float]) -> str:
    """The fastest good candidate; another backend must beat the best torch one by SWITCH_MARGIN.

    Measured on a quiet 2-core CPU, OpenVINO won the 64² sample windows by 2–9 % and then lost
    on a 128² crop (fp32: 3.65 s against torch's 3.10 s), while it costs a conversion, a slower
    first tile and more memory; a near tie is noise, so it goes to torch.
    """
    if not good:
        return "torch fp32"
    best = min(good, key=lambda label: seconds[label])
    torch_labels = [label for label in good if label.startswith("torch ")]
    if best.startswith("torch ") or not torch_labels:
        return best
    best_torch = min(torch_labels, key=lambda label: seconds[label])
    return best if seconds[best] <= (1 - SWITCH_MARGIN) * seconds[best_torch] else best_torch


def cached_choice(facts: ModelFacts, precision: str, threads: int | None = None) -> BackendChoice | None:
    """The stored decision for this machine, model, precision request and thread count, if any
    (no measuring)."""
    choices = read_json(choices_path())
    if not choices:  # nothing measured on this machine yet: no need to hash the weights
        return None
    stored = choices.get(_key(facts, precision, threads))
    if not _is_measurement(stored):
        return None
    decided = _decide(stored)
    return BackendChoice(decided["backend"], decided["precision"], "stored decision")


def choose_backend(
    facts: ModelFacts,
    precision: str,
    device: torch.device,
    *,
    job_pixels: int,
    threads: int | None = None,
    remeasure: bool = False,
) -> BackendChoice:
    """What ``backend="auto"`` runs for this job (see the module docstring)."""
    torch_backend = BACKEND_TYPES["torch"]
    openvino = BACKEND_TYPES["openvino"]
    if precision == "int8":
        openvino.require()
        return BackendChoice(
            "openvino", openvino.resolve_precision(facts, "int8", device), "int8 runs on openvino"
        )
    if device.type != "cpu":
        return BackendChoice("torch", torch_backend.resolve_precision(facts, precision, device), "not a CPU")
    if not openvino.available():
        return BackendChoice(
            "torch", torch_backend.resolve_precision(facts, precision, device), "openvino not installed"
        )
    if not remeasure:
        stored = cached_choice(facts, precision, threads)
        if stored is not None:
            return stored
    if job_pixels < MEASURE_MIN_PIXELS and not remeasure:
        return BackendChoice(
            "torch", torch_backend.resolve_precision(facts, precision, device), NOT_MEASURED_YET
        )
    entry = measure_backends(facts, precision, remeasure=True, threads=threads)
    return BackendChoice(str(entry["backend"]), str(entry["precision"]), "measured")
