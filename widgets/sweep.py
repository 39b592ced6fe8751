"""Tile sweep: time a few tile sizes on a crop and pick the fastest that fits in memory.

The measuring part (:func:`run_tile_sweep`, :func:`fastest_fitting`) uses no widgets, so a
script or a future CLI command can call it; :class:`TileSweepPanel` puts it in the tuner.
Each point is one ``run_upscale`` with ``tile=N`` on the same crop; its time and peak memory
come from the engine's report (the engine's per-tile estimate where it measured none).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as w
import numpy as np

from ..core.errors import InvalidParameterError, UpscaleOutOfMemoryError
from ..core.options import TILE_WHOLE
from .common import TILE_SIZES, engine, format_bytes, status_html
from .previews import center_crop
from .worker import JobContext, JobOutcome, Worker

if TYPE_CHECKING:
    from ..core.load import UpscaleModelLike

__all__ = [
    "SweepPoint",
    "SweepResult",
    "run_tile_sweep",
    "fastest_fitting",
    "sweep_html",
    "TileSweepPanel",
    "SweepHost",
    "DEFAULT_SWEEP_TILES",
]

DEFAULT_SWEEP_TILES = (64, 96, 128, 192, 256)


@dataclass(frozen=True)
class SweepPoint:
    tile: int
    seconds: float | None
    """Engine time for the crop; ``None`` when this tile size ran out of memory."""
    memory_bytes: int | None
    """Measured peak (``report.peak_memory_bytes``), else the engine's estimate for one tile."""
    memory_measured: bool
    tiles: int | None
    out_of_memory: bool = False

    def fits(self, memory_budget: int | None) -> bool:
        if self.out_of_memory:
            return False
        return memory_budget is None or self.memory_bytes is None or self.memory_bytes <= memory_budget


@dataclass(frozen=True)
class SweepResult:
    points: tuple[SweepPoint, ...]
    crop_size: tuple[int, int]
    """(height, width) of the crop every point ran on."""
    memory_budget: int | None
    best_tile: int | None
    """The fastest tile size that fits, or ``None`` when none did."""


def fastest_fitting(points: Sequence[SweepPoint], memory_budget: int | None) -> SweepPoint | None:
    """The fastest point within ``memory_budget``; ties go to the smaller tile (less memory)."""
    fitting = [p for p in points if p.seconds is not None and p.fits(memory_budget)]
    return min(fitting, key=lambda p: (p.seconds, p.tile), default=None)


def run_tile_sweep(
    model: UpscaleModelLike,
    image: np.ndarray,
    tiles: Sequence[int] = DEFAULT_SWEEP_TILES,
    *,
    crop: int = 256,
    tile_pad: int | None = None,
    precision: str = "auto",
    device: Any = None,
    threads: int | None = None,
    memory_budget: int | None = None,
    warmup: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    runner: Callable[..., Any] | None = None,
    estimate_memory: Callable[..., int] | None = None,
) -> SweepResult:
    """Upscale the central ``crop``×``crop`` of ``image`` once per tile size and time each.

    Tile sizes not smaller than the crop are dropped (they would all mean "one tile"), except
    that at least the smallest is kept. ``warmup`` runs the smallest tile once untimed first,
    so the first point does not pay for one-time setup. A tile size that runs out of memory
    is recorded as not fitting; any other error stops the sweep and is raised.
    ``runner``/``estimate_memory`` default to ``core.engine.run_upscale``/``estimate_tile_memory``.
    """
    if crop < 8:
        raise InvalidParameterError(f"the sweep crop must be at least 8 pixels, got {crop}")
    wanted = sorted({int(t) for t in tiles})
    if not wanted or wanted[0] <= 0:
        raise InvalidParameterError(f"give positive tile sizes to sweep, got {list(tiles)}")
    sample = center_crop(image, crop, crop)
    longest = max(sample.shape[:2])
    candidates = [t for t in wanted if t < longest] or wanted[:1]
    run = runner or engine().run_upscale
    common = {
        "tile_pad": tile_pad,
        "precision": precision,
        "device": device,
        "threads": threads,
        "memory_budget": memory_budget,
        "cancel": cancel,
    }
    total = len(candidates) + (1 if warmup else 0)
    done = 0
    if progress is not None:
        progress(done, total)
    if warmup:
        run(model, center_crop(sample, candidates[0], candidates[0]), tile=TILE_WHOLE, **common)
        done += 1
        if progress is not None:
            progress(done, total)
    points = []
    for tile in candidates:
        try:
            report = run(model, sample, tile=tile, **common).report
        except UpscaleOutOfMemoryError:
            points.append(SweepPoint(tile, None, None, False, None, out_of_memory=True))
        else:
            measured = report.peak_memory_bytes
            if measured is None:
                estimate = estimate_memory or engine().estimate_tile_memory
                memory = int(estimate(model, tile, precision=precision, device=device))
            else:
                memory = measured
            points.append(SweepPoint(tile, float(report.seconds), memory, measured is not None, report.tiles))
        done += 1
        if progress is not None:
            progress(done, total)
    best = fastest_fitting(points, memory_budget)
    return SweepResult(tuple(points), sample.shape[:2], memory_budget, None if best is None else best.tile)


def sweep_html(result: SweepResult) -> str:
    """A table with one bar per tile size (longer = faster), the chosen one marked."""
    times = [p.seconds for p in result.points if p.seconds is not None]
    fastest = min(times, default=None)
    rows = []
    for point in result.points:
        chosen = point.tile == result.best_tile
        if point.seconds is None or fastest is None:
            bar, time_text = "", "out of memory" if point.out_of_memory else "—"
        else:
            share = fastest / point.seconds if point.seconds > 0 else 1.0
            colour = "#1b7f3b" if chosen else ("#8aa4c8" if point.fits(result.memory_budget) else "#d9a0a0")
            bar = f'<div style="background:{colour};height:10px;width:{max(2, round(120 * share))}px"></div>'
            time_text = f"{point.seconds:.3f} s"
        memory = format_bytes(point.memory_bytes) if point.memory_bytes is not None else "—"
        if point.memory_bytes is not None and not point.memory_measured:
            memory = f"~{memory} (estimate)"
        fits = "yes" if point.fits(result.memory_budget) else "no"
        style = "font-weight:600" if chosen else ""
        rows.append(
            f'<tr style="{style}" data-tile="{point.tile}"><td>{point.tile}{" ✓" if chosen else ""}</td>'
            f"<td>{'' if point.tiles is None else point.tiles}</td><td>{time_text}</td><td>{bar}</td>"
            f"<td>{html.escape(memory)}</td><td>{fits}</td></tr>"
        )
    budget = "none set" if result.memory_budget is None else format_bytes(result.memory_budget)
    head = "<tr><th>tile</th><th>tiles</th><th>time</th><th>speed</th><th>memory</th><th>fits</th></tr>"
    verdict = (
        f"fastest that fits: <b>{result.best_tile}</b>"
        if result.best_tile
        else "<b>no tile size fits the memory budget</b>"
    )
    h, w_ = result.crop_size
    return (
        f'<div class="rk-sweep-result"><div>crop {w_}×{h} · memory budget {budget} · {verdict}</div>'
        f'<table style="border-collapse:collapse">{head}{"".join(rows)}</table></div>'
    )


class SweepSettings(Protocol):
    """The host's current settings the sweep keeps fixed while it varies the tile."""

    @property
    def model(self) -> str: ...
    @property
    def tile_pad(self) -> int | None: ...
    @property
    def precision(self) -> str: ...


class SweepHost(Protocol):
    """What :class:`TileSweepPanel` needs from the panel it sits in (``UpscaleTuner`` is one).

    The sweep shares the host's worker (one job at a time), model cache, engine settings,
    status line, error box and progress bar, and hands the winning tile back to it.
    """

    device: Any
    threads: int | None
    memory_budget: int | None
    worker: Worker

    def require_image(self) -> np.ndarray: ...
    def settings(self) -> SweepSettings: ...
    def load_selected_model(self, key: str | None = None) -> UpscaleModelLike: ...
    def runner(self) -> Callable[..., Any]: ...
    def begin_job(self, text: str) -> None: ...
    def end_job(self) -> None: ...
    def apply_tile(self, tile: int) -> None: ...
    def set_status(self, text: str, state: str) -> None: ...
    def show_error(self, exc: BaseException, action: str) -> None: ...
    def run_action(self, action: Callable[[], Any], what: str) -> None: ...
    def report_progress(self, done: int, total: int) -> None: ...


class TileSweepPanel(w.VBox):
    """Controls for a sweep inside a :class:`SweepHost` (the tuner); applies the winner to its tile."""

    def __init__(self, tuner: SweepHost) -> None:
        self.tuner = tuner
        self.result: SweepResult | None = None
        style = {"description_width": "80px"}
        self.tiles = w.SelectMultiple(
            options=TILE_SIZES, value=DEFAULT_SWEEP_TILES, rows=4, description="tile sizes", style=style
        )
        self.crop = w.IntSlider(
            value=256, min=32, max=1024, step=32, description="crop", continuous_update=False, style=style
        )
        budget = tuner.memory_budget
        self.memory_budget = w.BoundedFloatText(
            value=round(budget / 2**30, 3) if budget else 0.0,
            min=0.0,
            max=4096.0,
            step=0.25,
            description="budget GiB",
            tooltip="a tile size fits when its peak memory is at most this; 0: no limit beyond running out of memory",
            style=style,
            layout=w.Layout(width="200px"),
        )
        self.apply = w.Checkbox(value=True, description="set the tuner's tile to the winner", indent=False)
        self.run_button = w.Button(description="Run sweep", icon="tachometer-alt")
        self.status = w.HTML("")
        self.table = w.HTML("")
        super().__init__(
            [self.tiles, self.crop, self.memory_budget, self.apply, self.run_button, self.status, self.table]
        )
        self.run_button.on_click(lambda _: self.tuner.run_action(self.run, "starting the tile sweep"))

    def run(self) -> Any:
        """Start the sweep on the tuner's worker (one job at a time); returns the future."""
        tuner = self.tuner
        image = tuner.require_image()
        settings = tuner.settings()
        tiles, crop = tuple(self.tiles.value), int(self.crop.value)
        budget = int(self.memory_budget.value * 2**30) or None
        if not tiles:
            raise InvalidParameterError("select at least one tile size to sweep")
        tuner.begin_job("tile sweep: loading model…")
        self.status.value = ""

        def job(context: JobContext) -> SweepResult:
            model = tuner.load_selected_model(settings.model)
            tuner.set_status("tile sweep: timing…", "running")
            return run_tile_sweep(
                model,
                image,
                tiles,
                crop=crop,
                tile_pad=settings.tile_pad,
                precision=settings.precision,
                device=tuner.device,
                threads=tuner.threads,
                memory_budget=budget,
                progress=context.progress,
                cancel=context.cancelled,
                runner=tuner.runner(),
            )

        try:
            return tuner.worker.submit(job, on_progress=tuner.report_progress, on_finish=self._finished)
        except BaseException:
            tuner.end_job()
            raise

    def _finished(self, outcome: JobOutcome[SweepResult]) -> None:
        tuner = self.tuner
        if outcome.status == "done":
            assert outcome.result is not None  # done always carries the result
            self.result = outcome.result
            self.table.value = sweep_html(outcome.result)
            best = outcome.result.best_tile
            if best is not None and self.apply.value:
                tuner.apply_tile(best)
            text = (
                f"tile sweep done: fastest that fits is {best}"
                if best
                else "tile sweep done: no tile size fits"
            )
            tuner.set_status(text, "done")
            self.status.value = status_html(text, "done")
        elif outcome.status == "cancelled":
            tuner.set_status("tile sweep cancelled", "cancelled")
        else:
            assert outcome.error is not None  # failed always carries the exception
            tuner.show_error(outcome.error, "the tile sweep")
            tuner.set_status("tile sweep failed (details below)", "failed")
        tuner.end_job()
