"""UpscaleTuner: pick a model, tile size, outscale and precision for an image, and see the result.

The widget is a list of controls and one call, ``core.engine.run_upscale``, made on a worker
thread so the kernel keeps receiving clicks (Cancel included) while it runs. After each run it
shows the engine's report: time, effective speed, peak memory, the tiling it used.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import traitlets

from ..core.errors import InvalidParameterError
from ..core.options import BACKENDS, OPTION_NAMES, PRECISIONS, TILE_AUTO, TILE_WHOLE, Tile, UpscaleOptions
from ..core.zoo import DEFAULT_MODEL, get_entry
from .common import (
    TILE_SIZES,
    PanelMixin,
    engine,
    format_seconds,
    model_choices,
    report_rows,
    rows_html,
    selected_model,
)
from .compare import CompareView
from .picker import ImagePicker
from .previews import DEFAULT_PREVIEW_SIDE, as_array, describe
from .sweep import TileSweepPanel
from .worker import JobContext, JobOutcome, Worker

if TYPE_CHECKING:
    from ..core.load import ModelInput, UpscaleModelLike

__all__ = [
    "UpscaleTuner",
    "UpscaleSettings",
    "TILE_CHOICES",
    "TILE_SIZES",
    "TILE_PAD_CHOICES",
    "PRECISIONS",
    "BACKENDS",
]

log = logging.getLogger(__name__)

TILE_CHOICES: tuple[tuple[str, Tile], ...] = (
    ("auto", TILE_AUTO),
    ("whole image", TILE_WHOLE),
    *((str(t), t) for t in TILE_SIZES),
)
TILE_PAD_CHOICES: tuple[tuple[str, str | int], ...] = (
    ("auto", "auto"),
    *((str(p), p) for p in (0, 4, 8, 10, 16, 24, 32, 48, 64)),
)
_GIVEN_PREFIX = "given model: "


@dataclass(frozen=True)
class UpscaleSettings:
    """What the controls say, in the engine's terms."""

    model: str
    tile: Tile
    tile_pad: int | None
    outscale: float
    precision: str
    tta: bool
    backend: str = "auto"

    def engine_kwargs(self) -> dict[str, Any]:
        """The settings that are engine options (``UpscaleOptions``' names), by name: a control
        for a new option is one field here."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in OPTION_NAMES}

    def engine_options(self) -> UpscaleOptions:
        return UpscaleOptions.from_dict(self.engine_kwargs())


class UpscaleTuner(PanelMixin, w.VBox):
    """Upscale one image interactively.

    ``image``: a path, image bytes, a PIL image or a numpy array (or load one with the
    controls). ``model``: a zoo name, a weights path, or an already loaded ``ModelDescriptor``.
    ``device``, ``threads``, ``memory_budget``: passed to the engine as they are.
    ``executor``: where jobs run (default: one worker thread; tests pass ``InlineExecutor()``).
    ``runner``: the upscale call (default ``core.engine.run_upscale``).
    """

    state = traitlets.Unicode("idle")
    """idle, running, done, cancelled or failed: the last run's state (for observers and tests)."""

    def __init__(
        self,
        image: Any = None,
        *,
        model: ModelInput = DEFAULT_MODEL,
        search_dirs: Sequence[str | os.PathLike[str]] = (),
        device: Any = None,
        threads: int | None = None,
        memory_budget: int | None = None,
        executor: concurrent.futures.Executor | None = None,
        runner: Callable[..., Any] | None = None,
        preview_side: int = DEFAULT_PREVIEW_SIDE,
        sweep: bool = True,
    ) -> None:
        self.device, self.threads, self.memory_budget = device, threads, memory_budget
        self.search_dirs = tuple(search_dirs)
        self.worker = Worker(executor)
        self._runner = runner
        self._given_models: dict[str, UpscaleModelLike] = {}
        self._loaded: tuple[str, UpscaleModelLike] | None = (
            None  # (dropdown value, descriptor): one model kept
        )
        self._image: np.ndarray | None = None
        self.result: np.ndarray | None = None
        self.report: Any = None

        style = {"description_width": "80px"}
        wide = w.Layout(width="340px")
        self._build_model_controls(style, wide)
        self._build_run_row(style, preview_side)
        extra = self._build_sweep(sweep, wide)
        self._lay_out_sections(extra)
        self._connect_events()

        self.set_model(model)
        if image is not None:
            self.set_image(image)

    def _build_model_controls(self, style: dict[str, str], wide: w.Layout) -> None:
        """The image picker and the engine settings: model, tile, tile pad, outscale, precision, backend, TTA."""
        self.picker = ImagePicker(self._picked, self.show_error)
        self.model = w.Dropdown(
            options=model_choices(self.search_dirs), description="model", style=style, layout=wide
        )
        self.tile = w.SelectionSlider(
            options=TILE_CHOICES,
            value=TILE_AUTO,
            description="tile",
            continuous_update=False,
            style=style,
            layout=wide,
        )
        self.tile_pad = w.SelectionSlider(
            options=TILE_PAD_CHOICES,
            value="auto",
            description="tile pad",
            continuous_update=False,
            style=style,
            layout=wide,
        )
        self.outscale = w.FloatSlider(
            value=4.0,
            min=1.0,
            max=8.0,
            step=0.25,
            description="outscale",
            continuous_update=False,
            style=style,
            layout=wide,
            readout_format=".2f",
        )
        self.precision = w.ToggleButtons(
            options=PRECISIONS,
            value="auto",
            description="precision",
            style={**style, "button_width": "52px"},
            layout=wide,
        )
        self.backend = w.ToggleButtons(
            options=BACKENDS,
            value="auto",
            description="backend",
            tooltips=[
                "the fastest that keeps quality here (measured once, stored)",
                "PyTorch",
                "OpenVINO on the CPU (pip install 'realesrgan-kit[openvino]')",
            ],
            style={**style, "button_width": "72px"},
            layout=wide,
        )
        self.tta = w.Checkbox(value=False, description="TTA (8 flips/rotations, 8× slower)", indent=False)

    def _build_run_row(self, style: dict[str, str], preview_side: int) -> None:
        """Run/cancel, progress and status, the save row, the history and the before/after view."""
        self.build_run_controls(run="Run", icon="play", unit="tiles", status="ready", style=style)
        self.save_path = w.Text(
            placeholder="e.g. result.png", description="save as", style=style, layout=w.Layout(width="180px")
        )
        self.overwrite = w.Checkbox(
            value=False, description="overwrite", indent=False, layout=w.Layout(width="90px")
        )
        self.save_button = w.Button(
            description="Save", icon="save", disabled=True, layout=w.Layout(width="80px")
        )
        self.history = w.Output(layout=w.Layout(max_height="8em", overflow="auto"))
        self.compare = CompareView(
            preview_side=preview_side, layout=w.Layout(flex="1 1 420px", min_width="320px", max_width="720px")
        )
        self.run_button.add_class("rk-run")
        self.cancel_button.add_class("rk-cancel")
        self.tile.add_class("rk-tile")
        self.status.add_class("rk-tuner-status")
        self.stats.add_class("rk-tuner-stats")

    def _build_sweep(self, sweep: bool, wide: w.Layout) -> list[w.Widget]:
        """The folded tile-sweep panel (when ``sweep``), as the extra rows of the controls column."""
        self.sweep: TileSweepPanel | None = None
        extra: list[w.Widget] = []
        if sweep:
            self.sweep = TileSweepPanel(self)
            extra.append(
                w.Accordion(
                    children=[self.sweep],
                    titles=("Tile sweep: find the fastest tile size",),
                    selected_index=None,
                    layout=wide,
                )
            )
        return extra

    def _lay_out_sections(self, extra: list[w.Widget]) -> None:
        """The controls column beside the comparison, as this box's one child."""
        controls = w.VBox(
            [
                self.picker,
                self.model,
                self.tile,
                self.tile_pad,
                self.outscale,
                self.precision,
                self.backend,
                self.tta,
                w.HBox([self.run_button, self.cancel_button]),
                w.HBox([self.progress, self.progress_label]),
                self.status,
                self.error,
                self.stats,
                w.HBox([self.save_path, self.overwrite, self.save_button]),
                *extra,
                self.history,
            ],
            layout=w.Layout(width="360px", flex="0 0 auto"),
        )
        super().__init__(
            [
                w.HBox(
                    [controls, self.compare], layout=w.Layout(flex_flow="row wrap", align_items="flex-start")
                )
            ]
        )
        self.add_class("rk-tuner")

    def _connect_events(self) -> None:
        """Buttons and the model dropdown → actions; every action reports its error in the panel."""
        self.run_button.on_click(lambda _: self.run_action(self.run, "starting the run"))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.save_button.on_click(lambda _: self.run_action(self._save_clicked, "saving"))
        self.model.observe(self._on_model, "value")

    # ---- public API ---------------------------------------------------------------------
    def set_image(self, image: Any, name: str | None = None) -> None:
        """Use ``image`` (path, bytes, PIL image or numpy array) as the input; clears the result."""
        if self.worker.busy:
            raise InvalidParameterError(
                "a run is in progress; press Cancel (or wait) before changing the image"
            )
        array = as_array(image)
        self._image, self.result, self.report = array, None, None
        self.picker.show(describe(array), name)
        self.compare.set_images(array)
        self.stats.value = ""
        self.save_button.disabled = True

    def set_model(self, model: ModelInput) -> None:
        """Select a zoo name, a weights path, or an already loaded ``ModelDescriptor``."""
        if isinstance(model, (str, os.PathLike)):
            value = os.fspath(model)
            values = [v for _, v in self.model.options]
            if value not in values:
                entry = get_entry(value)
                if entry is not None:
                    value = entry.name
                else:  # a path not in the model folders: offer it as its own choice
                    self.model.options = [*self.model.options, (Path(value).name, value)]
            self.model.value = value
        elif hasattr(model, "module") and hasattr(model, "scale"):
            key = f"{_GIVEN_PREFIX}{getattr(model, 'name', None) or 'model'} #{len(self._given_models) + 1}"
            self._given_models[key] = model
            self.model.options = [*self.model.options, (key, key)]
            self.model.value = key
            self.outscale.value = float(getattr(model, "default_outscale", None) or model.scale)
        else:
            raise InvalidParameterError(
                f"model must be a zoo name, a weights file path or a loaded ModelDescriptor, got {type(model).__name__}"
            )

    def settings(self) -> UpscaleSettings:
        pad = self.tile_pad.value
        return UpscaleSettings(
            model=selected_model(self.model),
            tile=self.tile.value,
            tile_pad=None if pad == "auto" else int(pad),
            outscale=float(self.outscale.value),
            precision=str(self.precision.value),
            tta=bool(self.tta.value),
            backend=str(self.backend.value),  # a ToggleButtons over BACKENDS always has one
        )

    def run(self) -> concurrent.futures.Future[JobOutcome[Any]]:
        """Start an upscale in the background with the current settings; returns at once.

        The future's result is a :class:`~.worker.JobOutcome`; the widget shows it either way.
        """
        image = self.require_image()
        settings = self.settings()
        self.begin_job("loading model…")
        try:
            return self.worker.submit(
                lambda context: self._upscale_job(image, settings, context),
                on_progress=self.report_progress,
                on_finish=self._on_upscaled,
            )
        except BaseException:
            self.end_job()
            raise

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the last result to ``path`` (format from the extension), atomically."""
        from ..core.imagefile.arrays import write_image

        if self.result is None:
            raise InvalidParameterError("there is no result to save yet; press Run first")
        return write_image(path, self.result, overwrite=overwrite).resolve()

    def close(self) -> None:
        self.worker.shutdown(wait=False)
        super().close()

    # ---- what the tile sweep drives (sweep.SweepHost) -----------------------------------
    def load_selected_model(self, key: str | None = None) -> UpscaleModelLike:
        """The descriptor for the dropdown's value (loaded once, kept until another is picked).

        Called on the worker thread only, so the cache needs no lock.
        """
        key = selected_model(self.model) if key is None else key
        if key in self._given_models:
            return self._given_models[key]
        if self._loaded is not None and self._loaded[0] == key:
            return self._loaded[1]
        from ..core.load import load_model

        self._loaded = None  # free the previous model before loading the next
        descriptor = load_model(key, device=self.device, search_dirs=self.search_dirs)
        self._loaded = (key, descriptor)
        return descriptor

    def runner(self) -> Callable[..., Any]:
        return self._runner or engine().run_upscale

    def apply_tile(self, tile: Tile) -> None:
        """Set the tile slider (the sweep's winner)."""
        self.tile.value = tile

    def require_image(self) -> np.ndarray:
        """The input image, or an error that says how to give one."""
        if self._image is None:
            raise InvalidParameterError(
                "no image yet: type a path and press Load, upload a file, or call set_image(...)"
            )
        return self._image

    def begin_job(self, text: str) -> None:
        """Controls into the running state (on the kernel thread, before submitting)."""
        self.error.value = ""
        self.progress.value, self.progress.max, self.progress_label.value = 0, 1, ""
        for control in (self.run_button, self.save_button, self.picker):
            control.disabled = True
        if self.sweep is not None:
            self.sweep.run_button.disabled = True
        self.cancel_button.disabled = False
        self.set_status(text, "running")

    def end_job(self) -> None:
        for control in (self.run_button, self.picker):
            control.disabled = False
        if self.sweep is not None:
            self.sweep.run_button.disabled = False
        self.cancel_button.disabled = True
        self.save_button.disabled = self.result is None

    # ---- handlers -----------------------------------------------------------------------
    def _on_model(self, change: dict[str, Any]) -> None:
        entry = get_entry(change["new"]) if isinstance(change["new"], str) else None
        if entry is not None:
            self.outscale.value = float(entry.scale)

    def _save_clicked(self) -> None:
        text = self.save_path.value.strip()
        if not text:
            raise InvalidParameterError("type a file name to save to first, e.g. result.png")
        written = self.save(text, overwrite=self.overwrite.value)
        self.set_status(f"saved {written}", "done")

    # ---- worker side (runs on the worker thread) ----------------------------------------
    def _upscale_job(self, image: np.ndarray, settings: UpscaleSettings, context: JobContext) -> Any:
        run = self.runner()  # first: a missing engine should not cost a model load
        model = self.load_selected_model(settings.model)
        context.raise_if_cancelled()
        self.set_status("upscaling…", "running")
        return run(
            model,
            image,
            **settings.engine_kwargs(),
            device=self.device,
            threads=self.threads,
            memory_budget=self.memory_budget,
            progress=context.progress,
            cancel=context.cancelled,
        )

    def report_progress(self, done: int, total: int) -> None:
        super().report_progress(done, total)
        self.progress_label.value = f"{done}/{total}"

    def _on_upscaled(self, outcome: JobOutcome[Any]) -> None:
        if outcome.status == "done":
            upscaled = outcome.result
            assert upscaled is not None  # a done outcome always carries its result
            self.result, self.report = upscaled.image, upscaled.report
            self.compare.after_label = f"after ×{self.outscale.value:g}"
            self.compare.set_after(upscaled.image)
            self.stats.value = rows_html(report_rows(upscaled.report), css_class="rk-report")
            self.set_status(f"done in {format_seconds(upscaled.report.seconds)}", "done")
            self.history.append_stdout(self._history_line(upscaled.report) + "\n")
        elif outcome.status == "cancelled":
            self.set_status("cancelled — nothing was produced", "cancelled")
        else:
            assert outcome.error is not None  # a failed outcome always carries its exception
            self.show_error(outcome.error, "upscaling")
            self.set_status("failed (details below)", "failed")
        self.end_job()

    def _history_line(self, report: Any) -> str:
        rows = dict(report_rows(report))
        return f"{self.model.value}: {rows['tiles']}, {rows['precision']}, ×{self.outscale.value:g} → {rows['elapsed']}, {rows['speed']}, peak {rows['peak memory']}"
