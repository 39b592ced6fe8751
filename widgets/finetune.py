"""FineTuner: fine-tune a Real-ESRGAN model on your images from a notebook.

Choose the data (an HR folder degraded on the fly, or a pairs folder), the model and the main
settings; **Start** runs ``core.train.finetune`` on the worker thread (the notebook stays
responsive), **Stop** ends it after the current iteration with a checkpoint (Start again with
"resume" ticked continues it), the loss curves and a before/after validation crop refresh as
training goes, **Export** copies the trained generator to a model file.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import traitlets

from ..core.errors import InvalidParameterError
from .common import PanelMixin, error_html, model_choices, status_html
from .previews import preview_png
from .worker import JobContext, JobOutcome, Worker

__all__ = ["FineTuner", "loss_curves_svg"]

_COLOURS = {
    "l1": "#0b5cad",
    "perceptual": "#1b7f3b",
    "gan": "#a15c00",
    "d_real": "#7b3fa0",
    "d_fake": "#b00020",
}


def loss_curves_svg(entries: Sequence[Mapping[str, float]], *, width: int = 420, height: int = 160) -> str:
    """Each loss as a polyline over the iterations, scaled to its own range, with its last value."""
    keys = [k for k in _COLOURS if any(k in e for e in entries)]
    if not entries or not keys:
        return f'<svg class="rk-loss-curves" width="{width}" height="{height}"></svg>'
    first, last = entries[0]["iteration"], entries[-1]["iteration"]
    span = max(last - first, 1)
    lines, legend = [], []
    for n, key in enumerate(keys):
        points = [(e["iteration"], e[key]) for e in entries if key in e]
        low, high = min(v for _, v in points), max(v for _, v in points)
        rng = (high - low) or 1.0
        coords = " ".join(
            f"{(i - first) / span * (width - 10) + 5:.1f},{height - 20 - (v - low) / rng * (height - 30):.1f}"
            for i, v in points
        )
        lines.append(f'<polyline fill="none" stroke="{_COLOURS[key]}" stroke-width="1.2" points="{coords}"/>')
        legend.append(
            f'<text x="{5 + n * 85}" y="{height - 4}" fill="{_COLOURS[key]}" font-size="11">'
            f"{key} {points[-1][1]:.4g}</text>"
        )
    return (
        f'<svg class="rk-loss-curves" width="{width}" height="{height}" data-points="{len(entries)}">'
        f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>{"".join(lines)}{"".join(legend)}</svg>'
    )


class FineTuner(PanelMixin, w.VBox):
    """The fine-tuning panel. ``executor``: tests pass ``InlineExecutor`` to run synchronously."""

    state = traitlets.Unicode("idle")
    """idle, running, done, cancelled (stopped) or failed."""

    def __init__(
        self,
        hr_folder: str | Path | None = None,
        *,
        pairs: str | Path | None = None,
        model: str = "realesr-animevideov3",
        run_dir: str | Path = "finetune-run",
        val_folder: str | Path | None = None,
        device: Any = None,
        settings: Any = None,
        executor: concurrent.futures.Executor | None = None,
        refresh_seconds: float = 0.5,
    ) -> None:
        from ..core.train.finetune_settings import TrainSettings

        base = settings or TrainSettings()
        self.device, self.base_settings = device, base
        self.worker = Worker(executor)
        self.refresh_seconds = refresh_seconds
        self.result: Any = None
        self.losses: list[dict[str, float]] = []
        self.validations: list[Any] = []
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._image = None

        style = {"description_width": "110px"}
        wide = w.Layout(width="480px")
        self._build_data_controls(
            style, wide, hr_folder=hr_folder, pairs=pairs, val_folder=val_folder, model=model, run_dir=run_dir
        )
        self._build_training_controls(style, base)
        self._build_run_controls(style)
        self._lay_out_sections()
        self._connect_events()

    def _build_data_controls(
        self,
        style: dict[str, str],
        wide: w.Layout,
        *,
        hr_folder: str | Path | None,
        pairs: str | Path | None,
        val_folder: str | Path | None,
        model: str,
        run_dir: str | Path,
    ) -> None:
        """Where the data comes from, the model to start from and the run folder."""
        self.hr_folder = w.Text(value=str(hr_folder or ""), description="HR folder", style=style, layout=wide)
        self.pairs = w.Text(value=str(pairs or ""), description="or pairs folder", style=style, layout=wide)
        self.val_folder = w.Text(
            value=str(val_folder or ""), description="validation", style=style, layout=wide
        )
        self.model = w.Dropdown(options=model_choices(), description="model", style=style, layout=wide)
        self.model.value = model if model in [v for _, v in self.model.options] else self.model.value
        self.run_dir = w.Text(value=str(run_dir), description="run folder", style=style, layout=wide)

    def _build_training_controls(self, style: dict[str, str], base: Any) -> None:
        """The training settings, starting from ``base`` (stage, losses, sizes, rates, precision)."""
        from ..core.options import TRAIN_PRECISIONS
        from ..core.train.finetune_settings import GT_TARGETS, PERCEPTUAL_CHOICES, STAGES

        self.stage = w.ToggleButtons(options=list(STAGES), value=base.stage, description="stage", style=style)
        self.perceptual = w.Dropdown(
            options=list(PERCEPTUAL_CHOICES), value=base.perceptual, description="perceptual", style=style
        )
        self.iterations = w.BoundedIntText(
            value=base.iterations, min=1, max=10**8, description="iterations", style=style
        )
        self.batch = w.BoundedIntText(value=base.batch_size, min=1, max=512, description="batch", style=style)
        self.patch = w.BoundedIntText(
            value=base.patch_size, min=8, max=2048, description="patch", style=style
        )
        self.lr = w.FloatText(value=0.0, description="lr (0: official)", style=style)
        self.gt_target = w.Dropdown(
            options=list(GT_TARGETS), value=base.gt_target, description="L1 target GT", style=style
        )
        self.val_every = w.BoundedIntText(
            value=base.val_every, min=1, max=10**8, description="validate every", style=style
        )
        self.precision = w.Dropdown(
            options=list(TRAIN_PRECISIONS), value=base.precision, description="precision", style=style
        )

    def _build_run_controls(self, style: dict[str, str]) -> None:
        """Resume, start/stop, export, progress and status, the loss curves and the validation preview."""
        self.resume = w.Checkbox(value=False, description="resume the run in the folder", indent=False)
        self.start_button = w.Button(description="Start", icon="play", button_style="primary")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="warning", disabled=True)
        self.export_path = w.Text(
            value="", placeholder="my-model.safetensors", description="export to", style=style
        )
        self.export_button = w.Button(description="Export", icon="save", disabled=True)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="iterations", style=style)
        self.status = w.HTML(status_html("ready", "idle"))
        self.error = w.HTML("")
        self.curves = w.HTML(loss_curves_svg([]))
        self.psnr = w.HTML("")
        self.preview = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.preview.add_class("rk-pixelated")
        self.preview_caption = w.HTML("validation crop: LQ · start · current · ground truth")

    def _lay_out_sections(self) -> None:
        """The controls column above the curves and the preview."""
        controls = w.VBox(
            [
                self.hr_folder,
                self.pairs,
                self.val_folder,
                self.model,
                self.run_dir,
                self.stage,
                w.HBox([self.perceptual, self.precision]),
                w.HBox([self.iterations, self.val_every]),
                w.HBox([self.batch, self.patch]),
                w.HBox([self.lr, self.gt_target]),
                self.resume,
                w.HBox([self.start_button, self.stop_button]),
                w.HBox([self.export_path, self.export_button]),
                self.progress,
                self.status,
                self.error,
            ]
        )
        views = w.VBox([self.curves, self.psnr, self.preview_caption, self.preview])
        super().__init__(
            [
                w.HTML("<style>.rk-pixelated img, img.rk-pixelated { image-rendering: pixelated; }</style>"),
                controls,
                views,
            ]
        )
        self.add_class("rk-finetuner")

    def _connect_events(self) -> None:
        """Buttons → actions; every action reports its error in the panel."""
        self.start_button.on_click(lambda _: self.run_action(self.start, "starting the training"))
        self.stop_button.on_click(lambda _: self.stop())
        self.export_button.on_click(lambda _: self.run_action(self.export, "exporting"))

    # ---- public API ---------------------------------------------------------------------
    def settings(self) -> Any:
        """The settings the controls describe (on top of the ones given to the constructor)."""
        return self.base_settings.replace(
            stage=self.stage.value,
            perceptual=self.perceptual.value,
            iterations=int(self.iterations.value),
            batch_size=int(self.batch.value),
            patch_size=int(self.patch.value),
            lr=float(self.lr.value) or None,
            val_every=int(self.val_every.value),
            precision=self.precision.value,
        ).with_gt_target(str(self.gt_target.value))

    def start(self) -> concurrent.futures.Future[JobOutcome[Any]]:
        """Start (or, with "resume" ticked, continue) training on the worker thread."""
        if self.worker.busy:
            raise InvalidParameterError("training is running; press Stop first")
        hr, pairs = self.hr_folder.value.strip() or None, self.pairs.value.strip() or None
        if (hr is None) == (pairs is None):
            raise InvalidParameterError("fill in either the HR folder or the pairs folder (one of them)")
        settings, model_key = self.settings(), self.model.value
        if not model_key:
            raise InvalidParameterError("choose a model to start from")
        run_dir, resume = Path(self.run_dir.value.strip() or "finetune-run"), self.resume.value
        val_folder = self.val_folder.value.strip() or None
        with self._lock:
            self.losses, self.validations, self.result = [], [], None
        self.curves.value = loss_curves_svg([])
        self.error.value = ""
        self.progress.max, self.progress.value = settings.iterations, 0
        self._set_busy(True)
        self.set_status("loading the model and scanning the data…", "running")

        def job(context: JobContext) -> Any:
            from ..core.load import load_model
            from ..core.train import finetune

            model = load_model(model_key)
            context.raise_if_cancelled()
            self.set_status("training…", "running")
            self.result = finetune(
                model,
                run_dir,
                hr_folder=hr,
                pairs=pairs,
                val_folder=val_folder,
                settings=settings,
                resume=resume,
                device=self.device,
                progress=self._on_train_progress,
                on_validation=self._on_validation,
                cancel=context.cancelled,
            )
            return self.result

        return self.worker.submit(job, on_finish=self._finished)

    def stop(self) -> bool:
        """Ask the run to stop after the current iteration (a checkpoint is written)."""
        asked = self.worker.cancel()
        if asked:
            self.set_status("stopping after this iteration…", "running")
            self.stop_button.disabled = True
        return asked

    cancel = stop  # the panels' common name: a training run stops at a checkpoint, not mid-tile

    def export(self) -> Path:
        """Copy the trained generator to the "export to" path (refuses to overwrite)."""
        from ..core.train import export_run

        target = self.export_path.value.strip()
        if not target:
            raise InvalidParameterError("type a file name (…/name.safetensors) into 'export to' first")
        path = export_run(Path(self.run_dir.value.strip()), target, which=self.base_settings.export)
        self.set_status(f"exported to {path}", "done")
        return path

    def close(self) -> None:
        self.worker.shutdown(wait=False)
        super().close()

    # ---- internals (callbacks run on the worker thread) ---------------------------------
    def _on_train_progress(self, progress: Any) -> None:
        with self._lock:
            self.losses.append({"iteration": progress.iteration, **progress.losses})
        now = time.monotonic()
        done = progress.iteration >= progress.iterations
        self.progress.value = min(progress.iteration, self.progress.max)
        if done or now - self._last_draw >= self.refresh_seconds:
            self._last_draw = now
            with self._lock:
                entries = list(self.losses)
            self.curves.value = loss_curves_svg(entries)
            self.set_status(
                f"iteration {progress.iteration}/{progress.iterations} · {progress.iterations_per_second:.2f} it/s",
                "running",
            )

    def _on_validation(self, report: Any) -> None:
        with self._lock:
            self.validations.append(report)
        self.preview.value = preview_png(report.image, max(report.image.shape[:2]) * 2)
        self.psnr.value = (
            f'<div class="rk-psnr">validation at iteration {report.iteration}: '
            f"<b>PSNR {report.psnr_raw:.3f} dB</b> (EMA {report.psnr_ema:.3f}, start {report.psnr_start:.3f})</div>"
        )

    def _finished(self, outcome: JobOutcome[Any]) -> None:
        with self._lock:
            entries = list(self.losses)
        self.curves.value = loss_curves_svg(entries)
        result = self.result
        if outcome.status == "failed":
            assert outcome.error is not None  # a failed outcome carries its exception
            self.error.value = error_html(outcome.error, action="training")
            self.set_status("failed (details below); the last checkpoint is kept", "failed")
        elif result is not None and result.stopped:
            self.set_status(
                f"stopped at iteration {result.iteration}; tick 'resume' and Start to continue", "cancelled"
            )
        elif result is not None:
            self.set_status(f"done: {result.iteration} iterations → {result.model_path}", "done")
        else:
            self.set_status("stopped before training began", "cancelled")
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        for control in (self.start_button, self.hr_folder, self.pairs, self.model, self.run_dir):
            control.disabled = busy
        self.stop_button.disabled = not busy
        self.export_button.disabled = busy or self.result is None
