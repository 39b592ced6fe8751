"""The engine's one entry into the backends: pick (``select_backend``), then open (``open_runner``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import BackendError, InvalidParameterError
from ...options import PRECISIONS
from ..modelinfo import ModelFacts
from .autoselect import choose_backend
from .backend_registry import BACKENDS, get_backend
from .contract import Backend, WindowRunner
from .fallback import FallbackRunner

__all__ = ["Selection", "select_backend", "open_runner"]


@dataclass(frozen=True)
class Selection:
    requested: str
    backend: Backend
    precision: str
    reason: str


def select_backend(
    requested: str,
    facts: ModelFacts,
    precision: str,
    device: torch.device,
    *,
    job_pixels: int = 0,
    threads: int | None = None,
    measure: bool = True,
    remeasure: bool = False,
) -> Selection:
    """Which backend and precision run this job. ``measure=False`` (memory estimates) never
    measures: ``auto`` then uses a stored decision, else torch."""
    if requested not in BACKENDS:
        raise InvalidParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {requested!r}")
    if precision not in PRECISIONS:
        raise InvalidParameterError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if requested == "auto":
        # Without measuring, choose_backend gives the stored decision, else torch: it reads the
        # store once (each read hashes the weights, or checks the remembered hash).
        choice = choose_backend(
            facts,
            precision,
            device,
            job_pixels=job_pixels if measure else 0,
            threads=threads,
            remeasure=remeasure and measure,
        )
        return Selection("auto", get_backend(choice.backend), choice.precision, choice.reason)
    backend = get_backend(requested)
    backend.require()
    return Selection(requested, backend, backend.resolve_precision(facts, precision, device), "asked for")


def open_runner(
    selection: Selection, facts: ModelFacts, device: torch.device, *, tta: bool, threads: int | None
) -> WindowRunner:
    """The runner for one call. A backend asked for by name raises its typed error; one that
    ``auto`` chose falls back to torch with one warning (the runner's ``note`` says so)."""
    backend = selection.backend
    if selection.requested != "auto" or backend.name == "torch":
        return backend.open(facts, selection.precision, device, tta=tta, threads=threads)
    try:
        primary = backend.open(facts, selection.precision, device, tta=tta, threads=threads)
    except BackendError as exc:
        return FallbackRunner(None, facts, device, tta=tta, error=exc)
    return FallbackRunner(primary, facts, device, tta=tta)
