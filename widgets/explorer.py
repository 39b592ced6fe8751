"""DegradationExplorer: see what Real-ESRGAN's training degradations do to an image, and what a
model recovers from them.

Controls: seed, preset, scale, one switch per step and the main ranges; the widget calls
``core.degrade.degrade`` (on the worker thread) and shows the degraded image beside the
original with the sampled parameters. "Upscale this" runs the model on the degraded image
back to the original size and shows PSNR/SSIM against the original (``core.metrics``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import html
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import traitlets

from ..core.errors import InvalidParameterError
from ..core.options import DEGRADE_PRESETS
from ..core.zoo import DEFAULT_MODEL
from .common import PanelMixin, engine, error_html, model_choices, selected_model, status_html
from .compare import CompareView
from .picker import ImagePicker
from .previews import DEFAULT_PREVIEW_SIDE, as_array, describe, preview_png
from .worker import JobContext, JobOutcome, Worker

if TYPE_CHECKING:
    from torch import nn

    from ..core.load import ModelDescriptor

__all__ = ["DegradationExplorer", "STEP_SETTINGS", "SETTING_BOUNDS"]

# The settings (``core.degrade.DegradationSettings`` fields) each step's controls expose, and
# slider bounds; probabilities are 0..1. Values outside what degrade accepts are reported by
# degrade itself, in the widget.
STEP_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "sharpen": ("usm_weight",),
    "blur1": ("blur_sigma", "sinc_prob"),
    "resize1": ("resize_range",),
    "noise1": ("noise_range", "poisson_scale_range", "gaussian_noise_prob", "gray_noise_prob"),
    "jpeg1": ("jpeg_range",),
    "blur2": ("second_blur_prob", "blur_sigma2", "sinc_prob2"),
    "resize2": ("resize_range2",),
    "noise2": ("noise_range2", "poisson_scale_range2", "gaussian_noise_prob2", "gray_noise_prob2"),
    "final_sinc": ("final_sinc_prob",),
    "jpeg_final": ("jpeg_range2",),
}
SETTING_BOUNDS: Mapping[str, tuple[float, float, float]] = {  # (min, max, step)
    "usm_weight": (0.0, 2.0, 0.05),
    "blur_sigma": (0.1, 6.0, 0.1),
    "blur_sigma2": (0.1, 4.0, 0.1),
    "resize_range": (0.05, 4.0, 0.05),
    "resize_range2": (0.05, 4.0, 0.05),
    "noise_range": (0.0, 60.0, 0.5),
    "noise_range2": (0.0, 60.0, 0.5),
    "poisson_scale_range": (0.0, 10.0, 0.05),
    "poisson_scale_range2": (0.0, 10.0, 0.05),
    "jpeg_range": (1, 100, 1),
    "jpeg_range2": (1, 100, 1),
}
_PREVIEW_WIDTH = "300px"
_PIXELATED_CSS = "<style>.rk-pixelated { image-rendering: pixelated; }</style>"


def _degrade_module() -> Any:
    from ..core import degrade as degrade_module

    return degrade_module


def _control_for(name: str, value: Any) -> w.ValueWidget:
    style = {"description_width": "150px"}
    layout = w.Layout(width="380px")
    if isinstance(value, tuple):
        low, high, step = SETTING_BOUNDS.get(name, (0.0, max(1.0, 2 * float(value[1])), 0.01))
        if all(isinstance(v, int) for v in value) and float(step).is_integer():
            return w.IntRangeSlider(
                value=value,
                min=int(low),
                max=int(high),
                step=int(step),
                description=name,
                continuous_update=False,
                style=style,
                layout=layout,
            )
        return w.FloatRangeSlider(
            value=value,
            min=low,
            max=high,
            step=step,
            description=name,
            continuous_update=False,
            style=style,
            layout=layout,
            readout_format=".2f",
        )
    low, high, step = SETTING_BOUNDS.get(name, (0.0, 1.0, 0.01))
    return w.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=name,
        continuous_update=False,
        style=style,
        layout=layout,
        readout_format=".2f",
    )


class DegradationExplorer(PanelMixin, w.VBox):
    """Explore the second-order degradation on ``image`` (path, bytes, PIL image or numpy array).

    ``executor``: where jobs run (default a worker thread; tests pass ``InlineExecutor()``).
    ``runner``: the upscale call for "Upscale this" (default ``core.engine.run_upscale``).
    """

    state = traitlets.Unicode("idle")
    """idle, running, done, cancelled or failed: the last job's state."""

    def __init__(
        self,
        image: Any = None,
        *,
        seed: int = 0,
        preset: str = "realesrgan",
        scale: int = 4,
        model: str = DEFAULT_MODEL,
        device: Any = None,
        threads: int | None = None,
        executor: concurrent.futures.Executor | None = None,
        runner: Callable[..., Any] | None = None,
        auto_update: bool = True,
        preview_side: int = DEFAULT_PREVIEW_SIDE,
    ) -> None:
        degrade = _degrade_module()
        self.device, self.threads = device, threads
        self.worker = Worker(executor)
        self._runner = runner
        self._stale = threading.Event()  # controls changed while a job ran: degrade again after it
        self._loaded: tuple[str, ModelDescriptor[nn.Module]] | None = None
        self._preview_side = preview_side
        self._image: np.ndarray | None = None
        self.degraded: np.ndarray | None = None
        self.record: Any = None
        self.restored: np.ndarray | None = None
        self.metrics: dict[str, float] | None = None

        style = {"description_width": "80px"}
        self._build_degrade_controls(
            degrade, style, seed=seed, preset=preset, scale=scale, auto_update=auto_update
        )
        self._build_upscale_controls(style, model)
        self._build_views(preview_side)
        self._lay_out_sections()
        self._connect_events()

        if image is not None:
            self.set_image(image)

    def _build_degrade_controls(
        self, degrade: Any, style: dict[str, str], *, seed: int, preset: str, scale: int, auto_update: bool
    ) -> None:
        """The picker, seed, preset and scale, one checkbox per step and each step's ranges."""
        self.picker = ImagePicker(self._picked, self.show_error)
        self.seed = w.BoundedIntText(
            value=seed, min=0, max=2**53 - 1, description="seed", style=style, layout=w.Layout(width="220px")
        )
        self.next_seed = w.Button(description="next", layout=w.Layout(width="60px"), tooltip="seed + 1")
        self.random_seed = w.Button(
            description="random", layout=w.Layout(width="70px"), tooltip="a fresh random seed"
        )
        self.preset = w.Dropdown(options=DEGRADE_PRESETS, value=preset, description="preset", style=style)
        self.scale = w.Dropdown(
            options=[2, 3, 4], value=scale, description="scale", style=style, layout=w.Layout(width="180px")
        )
        self.steps = {
            step: w.Checkbox(value=True, description=step, indent=False, layout=w.Layout(width="110px"))
            for step in degrade.STEPS
        }
        self.ranges: dict[str, w.ValueWidget] = {}
        preset_values = degrade.PRESETS[preset]
        groups = []
        for step in degrade.STEPS:
            controls = []
            for name in STEP_SETTINGS.get(step, ()):
                if hasattr(preset_values, name):
                    self.ranges[name] = _control_for(name, getattr(preset_values, name))
                    controls.append(self.ranges[name])
            if controls:
                groups.append((step, w.VBox(controls)))
        self.range_panel = w.Accordion(
            children=[g for _, g in groups], titles=tuple(s for s, _ in groups), selected_index=None
        )
        self.degrade_button = w.Button(description="Degrade", icon="random", button_style="primary")
        self.auto_update = w.Checkbox(value=auto_update, description="update on every change", indent=False)

    def _build_upscale_controls(self, style: dict[str, str], model: str) -> None:
        """The model, upscale and cancel buttons, progress, status and error."""
        self.model = w.Dropdown(
            options=model_choices(),
            value=model,
            description="model",
            style=style,
            layout=w.Layout(width="340px"),
        )
        self.upscale_button = w.Button(description="Upscale this", icon="expand", disabled=True)
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", button_style="warning", disabled=True
        )
        self.progress = w.IntProgress(value=0, min=0, max=1, description="tiles", style=style)
        self.status = w.HTML(status_html("ready", "idle"))
        self.error = w.HTML("")

    def _build_views(self, preview_side: int) -> None:
        """The original and degraded images, the parameters, the metrics and the before/after view."""
        self.original_view = w.Image(format="png", layout=w.Layout(width=_PREVIEW_WIDTH))
        self.degraded_view = w.Image(format="png", layout=w.Layout(width=_PREVIEW_WIDTH))
        self.degraded_view.add_class("rk-pixelated")
        self.original_caption, self.degraded_caption = w.HTML("original"), w.HTML("degraded")
        self.parameters = w.HTML("")
        self.metrics_view = w.HTML("")
        self.compare = CompareView(preview_side=preview_side, layout=w.Layout(max_width="620px"))
        self.compare.before_label, self.compare.after_label = "original", "restored"

    def _lay_out_sections(self) -> None:
        """Controls, then the images side by side, the metrics and the comparison."""
        step_grid = w.GridBox(
            list(self.steps.values()), layout=w.Layout(grid_template_columns="repeat(5, 112px)")
        )
        controls = w.VBox(
            [
                self.picker,
                w.HBox([self.seed, self.next_seed, self.random_seed]),
                w.HBox([self.preset, self.scale]),
                w.HTML("<b>steps</b>"),
                step_grid,
                self.range_panel,
                w.HBox([self.degrade_button, self.auto_update]),
                w.HBox([self.model, self.upscale_button, self.cancel_button]),
                self.progress,
                self.status,
                self.error,
            ]
        )
        images = w.HBox(
            [
                w.VBox([self.original_caption, self.original_view]),
                w.VBox([self.degraded_caption, self.degraded_view]),
                self.parameters,
            ],
            layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        super().__init__([w.HTML(_PIXELATED_CSS), controls, images, self.metrics_view, self.compare])
        self.add_class("rk-explorer")

    def _connect_events(self) -> None:
        """Buttons → actions; any setting that changes the degradation degrades again."""
        self.next_seed.on_click(lambda _: setattr(self.seed, "value", self.seed.value + 1))
        self.random_seed.on_click(lambda _: setattr(self.seed, "value", secrets.randbelow(2**31)))
        self.degrade_button.on_click(lambda _: self.run_action(self.run, "degrading"))
        self.upscale_button.on_click(lambda _: self.run_action(self.upscale, "starting the upscale"))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.preset.observe(self._on_preset, "value")
        for control in (self.seed, self.scale, *self.steps.values(), *self.ranges.values()):
            control.observe(self._on_setting, "value")

    # ---- public API ---------------------------------------------------------------------
    def set_image(self, image: Any, name: str | None = None) -> None:
        """Use ``image`` as the original; degrades it at once when ``auto_update`` is on."""
        if self.worker.busy:
            raise InvalidParameterError("a job is running; press Cancel (or wait) before changing the image")
        array = as_array(image)
        self._image, self.degraded, self.record, self.restored, self.metrics = array, None, None, None, None
        self.picker.show(describe(array), name)
        self.original_view.value = preview_png(array, self._preview_side)
        self.original_caption.value = f"original {array.shape[1]}×{array.shape[0]}"
        self.degraded_view.value, self.parameters.value, self.metrics_view.value = b"", "", ""
        self.compare.clear()
        self.upscale_button.disabled = True
        if self.auto_update.value:
            self.run()

    def enabled(self) -> dict[str, bool]:
        return {step: box.value for step, box in self.steps.items()}

    def overrides(self) -> dict[str, Any]:
        """The range controls that differ from the preset (what ``degrade(overrides=...)`` gets)."""
        base = _degrade_module().PRESETS[self.preset.value]
        changed = {}
        for name, control in self.ranges.items():
            value = tuple(control.value) if isinstance(control.value, (tuple, list)) else control.value
            if not np.allclose(
                np.asarray(value, float), np.asarray(getattr(base, name), float), rtol=0, atol=1e-9
            ):
                changed[name] = value
        return changed

    def run(self) -> concurrent.futures.Future[JobOutcome[Any]] | None:
        """Degrade the image with the current controls in the background.

        While another job runs, the request is remembered and served when that job ends
        (returns ``None`` then).
        """
        if self._image is None:
            raise InvalidParameterError(
                "no image yet: type a path and press Load, upload a file, or call set_image(...)"
            )
        if self.worker.busy:
            self._stale.set()
            return None
        image, seed, scale = self._image, int(self.seed.value), self.scale.value
        preset, enabled, overrides = self.preset.value, self.enabled(), self.overrides()
        self._begin("degrading…")

        def job(context: JobContext) -> Any:
            return _degrade_module().degrade(
                image, seed=seed, scale=scale, preset=preset, enabled=enabled, overrides=overrides
            )

        return self._submit(job, self._degraded, "degrading")

    def upscale(self) -> concurrent.futures.Future[JobOutcome[Any]]:
        """Upscale the degraded image back to the original size and compare it with the original."""
        if self.degraded is None or self._image is None:
            raise InvalidParameterError("degrade an image first; 'Upscale this' works on the degraded image")
        if self.worker.busy:
            raise InvalidParameterError("a job is running; wait for it or press Cancel first")
        degraded, original, key = self.degraded, self._image, selected_model(self.model)
        height, width = original.shape[:2]
        self._begin("loading model…")
        self.cancel_button.disabled = False

        def job(context: JobContext) -> Any:
            run = self._runner or engine().run_upscale
            model = self._model_for(key)
            context.raise_if_cancelled()
            self.set_status("upscaling…", "running")
            return run(
                model,
                degraded,
                width=width,
                height=height,
                device=self.device,
                threads=self.threads,
                progress=context.progress,
                cancel=context.cancelled,
            )

        return self._submit(job, self._upscaled, "upscaling")

    def close(self) -> None:
        self.worker.shutdown(wait=False)
        super().close()

    # ---- internals ----------------------------------------------------------------------
    def _model_for(self, key: str) -> ModelDescriptor[nn.Module]:  # worker thread only
        if self._loaded is None or self._loaded[0] != key:
            from ..core.load import load_model

            self._loaded = None
            self._loaded = (key, load_model(key, device=self.device))
        return self._loaded[1]

    def _submit(
        self, job: Callable[[JobContext], Any], on_done: Callable[[Any], None], action: str
    ) -> concurrent.futures.Future[JobOutcome[Any]]:
        def finish(outcome: JobOutcome[Any]) -> None:
            if outcome.status == "done":
                on_done(outcome.result)
            elif outcome.status == "cancelled":
                self.set_status("cancelled — nothing was produced", "cancelled")
            else:
                assert outcome.error is not None  # a failed outcome carries its exception
                self.error.value = error_html(outcome.error, action=action)
                self.set_status("failed (details below)", "failed")
            self._end()
            if self._stale.is_set() and outcome.status != "failed":
                self._stale.clear()
                self.run_action(self.run, "degrading")

        try:
            return self.worker.submit(job, on_progress=self.report_progress, on_finish=finish)
        except BaseException:
            self._end()
            raise

    def _degraded(self, result: Any) -> None:
        self.degraded, self.record, self.restored, self.metrics = result.image, result.record, None, None
        self.degraded_view.value = preview_png(result.image, self._preview_side)
        h, w_ = result.image.shape[:2]
        self.degraded_caption.value = f"degraded {w_}×{h} (shown enlarged, nearest-neighbour)"
        self.parameters.value = self._parameters_html(result.record)
        self.metrics_view.value = ""
        self.compare.clear()
        self.set_status(f"degraded with seed {self.seed.value}", "done")

    def _upscaled(self, result: Any) -> None:
        from ..core.metrics import psnr, ssim

        assert self._image is not None  # upscale() checked it, and set_image is refused while busy
        self.restored = result.image
        self.metrics = {"psnr": psnr(self._image, result.image), "ssim": ssim(self._image, result.image)}
        self.compare.set_images(self._image, result.image)
        self.metrics_view.value = (
            f'<div class="rk-metrics">restored vs original: <b>PSNR {self.metrics["psnr"]:.2f} dB</b>, '
            f"<b>SSIM {self.metrics['ssim']:.4f}</b> ({html.escape(str(self.model.value))}, {result.report.seconds:.2f} s)</div>"
        )
        self.set_status("upscaled", "done")

    def _parameters_html(self, record: Any) -> str:
        rows = []
        disabled = set(getattr(record, "disabled", ()))
        for step in _degrade_module().STEPS:
            value = getattr(record, step, None)
            if step in disabled:
                text = "off"
            elif value is None:
                text = "not applied (sampled out)"
            elif hasattr(value, "describe"):
                text = value.describe()
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                text = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(value).items())
            else:
                text = f"quality {value}" if step.startswith("jpeg") else str(value)
            rows.append(
                f"<tr><th style='text-align:left;padding-right:1em'>{step}</th><td>{html.escape(text)}</td></tr>"
            )
        record_json = html.escape(json.dumps(record.to_dict(), indent=1, default=str))
        return (
            f'<div class="rk-parameters"><b>sampled parameters</b><table>{"".join(rows)}</table>'
            f"<details><summary>full record (JSON)</summary><pre>{record_json}</pre></details></div>"
        )

    def _on_preset(self, change: dict[str, Any]) -> None:
        base = _degrade_module().PRESETS[change["new"]]
        self._suspend = True  # one degrade for the whole preset, not one per slider
        try:
            for name, control in self.ranges.items():
                control.value = getattr(base, name)
        finally:
            self._suspend = False
        self._on_setting(change)

    _suspend = False

    def _on_setting(self, change: dict[str, Any]) -> None:
        if self._suspend or not self.auto_update.value or self._image is None:
            return
        self.run_action(self.run, "degrading")

    def _begin(self, text: str) -> None:
        self.error.value = ""
        self.progress.value = 0
        for control in (self.degrade_button, self.upscale_button, self.picker):
            control.disabled = True
        self.set_status(text, "running")

    def _end(self) -> None:
        self.degrade_button.disabled = self.picker.disabled = False
        self.upscale_button.disabled = self.degraded is None
        self.cancel_button.disabled = True
