"""``backend="auto"``: the fastest backend meeting the quality floor, measured once per machine and model.

The measurement runs each candidate (torch fp32, torch in the precision it would pick, OpenVINO
fp32, and OpenVINO bf16 where the CPU has it) on four 64×64 sample windows (ours, ``samples.py``), after one
warm-up, and compares them with torch fp32 on the same windows. The fastest candidate whose
PSNR against torch fp32 is at least ``QUALITY_FLOOR_DB`` wins, where a backend other than torch
must be at least ``SWITCH_MARGIN`` faster than the best torch candidate (a near tie stays on torch). It costs the one-time OpenVINO
conversion (about a minute for RealESRGAN_x4plus on 2 cores, cached anyway for later runs) plus
nine forwards of four 64² windows per candidate: estimated ~30–40 s for x4plus on a quiet
2-core CPU (2–4 candidates), a few seconds for the compact models (realesr-animevideov3 took
29–40 s on a 2-core machine under load average ~15, its conversion already cached). The decision is stored in ``<backend cache>/choices.json`` keyed by CPU class,
weights hash, torch and OpenVINO versions and the requested precision.

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
from typing import Any

import torch

from ...errors import BackendError
from ..modelinfo import ModelFacts, model_facts
from .machine import backend_cache_dir, cpu_class, read_json, weights_hash, write_json_atomic
from .registry import BACKEND_TYPES
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
]

log = logging.getLogger(__name__)

QUALITY_FLOOR_DB = 45.0
"""Least PSNR (dB) against torch fp32 for ``auto`` to use a backend/precision pair."""
MEASURE_MIN_PIXELS = 512 * 512
"""Input pixels a job needs before ``auto`` spends a measurement on an unknown model."""
SWITCH_MARGIN = 0.15
"""How much faster than the best torch candidate another backend must measure to be chosen."""
MEASURE_SIDE = 64
MEASURE_WINDOWS = 4


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


def _key(facts: ModelFacts, precision: str, digest: str | None = None) -> str:
    return f"{cpu_class()}|{digest or weights_hash(facts.module)}|{_versions()}|{precision}"


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


def _time_pair(
    facts: ModelFacts, name: str, precision: str, windows: list[torch.Tensor], threads: int | None
) -> tuple[float, list[torch.Tensor]]:
    runner = BACKEND_TYPES[name].open(facts, precision, torch.device("cpu"), tta=False, threads=threads)
    with torch.inference_mode():
        runner(windows[0])  # warm-up: kernel selection, first allocations
        best = float("inf")
        outputs: list[torch.Tensor] = []
        for _ in range(2):
            started = time.perf_counter()
            outputs = [runner(w) for w in windows]
            best = min(best, time.perf_counter() - started)
    return best, outputs


def measure_backends(
    model: Any | ModelFacts, precision: str = "auto", *, remeasure: bool = False, threads: int | None = None
) -> dict[str, Any]:
    """Measure every candidate on this machine for ``model`` and store the decision.

    Returns the stored entry: ``backend``, ``precision``, ``seconds`` and ``psnr`` per candidate
    (``"name precision"`` keys), ``cpu`` and ``measured_at``. A stored entry is returned as is
    unless ``remeasure``.
    """
    facts = model if isinstance(model, ModelFacts) else model_facts(model)
    device = torch.device("cpu")
    path = choices_path()
    key = _key(facts, precision)
    if not remeasure:
        stored = read_json(path).get(key)
        if isinstance(stored, dict) and stored.get("backend") in BACKEND_TYPES:
            return stored
    windows = sample_windows(facts.input_channels, MEASURE_SIDE, MEASURE_WINDOWS, multiple=facts.multiple_of)
    started = time.perf_counter()
    reference_seconds, reference = _time_pair(facts, "torch", "fp32", windows, threads)
    seconds: dict[str, float] = {}
    quality: dict[str, float] = {}
    failures: dict[str, str] = {}
    if precision in ("auto", "fp32"):  # the reference is a candidate too (exact by definition)
        seconds["torch fp32"], quality["torch fp32"] = reference_seconds, float("inf")
    for name, used in _candidates(facts, precision, device):
        if f"{name} {used}" in seconds:
            continue
        label = f"{name} {used}"
        try:
            seconds[label], outputs = _time_pair(facts, name, used, windows, threads)
        except BackendError as exc:
            failures[label] = str(exc)
            log.warning("backend measurement: %s cannot run this model (%s)", label, exc)
            continue
        quality[label] = min(_psnr(o, r) for o, r in zip(outputs, reference, strict=True))
    good = [label for label in seconds if quality[label] >= QUALITY_FLOOR_DB]
    best = _winner(good, seconds)
    backend, used = best.split(" ")
    entry = {
        "backend": backend,
        "precision": used,
        "seconds": seconds,
        "psnr": {k: (round(v, 2) if v != float("inf") else "exact") for k, v in quality.items()},
        "failed": failures,
        "cpu": cpu_class(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "measurement_seconds": round(time.perf_counter() - started, 2),
    }
    data = read_json(path)
    data[key] = entry
    write_json_atomic(path, data)
    log.info(
        "backend auto: measured %s in %.1f s; using %s %s (stored in %s)",
        ", ".join(f"{k} {v:.3f}s" for k, v in seconds.items()),
        entry["measurement_seconds"],
        backend,
        used,
        path,
    )
    return entry


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


def cached_choice(facts: ModelFacts, precision: str) -> BackendChoice | None:
    """The stored decision for this machine, model and precision request, if any (no measuring)."""
    stored = read_json(choices_path()).get(_key(facts, precision))
    if isinstance(stored, dict) and stored.get("backend") in BACKEND_TYPES:
        return BackendChoice(str(stored["backend"]), str(stored["precision"]), "stored decision")
    return None


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
        stored = cached_choice(facts, precision)
        if stored is not None:
            return stored
    if job_pixels < MEASURE_MIN_PIXELS and not remeasure:
        return BackendChoice(
            "torch", torch_backend.resolve_precision(facts, precision, device), "small job, not measured yet"
        )
    entry = measure_backends(facts, precision, remeasure=True, threads=threads)
    return BackendChoice(str(entry["backend"]), str(entry["precision"]), "measured")
