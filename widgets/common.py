"""Pieces shared by the tuner, the sweep and the explorer: model choices, error and stats display."""

from __future__ import annotations

import html
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidParameterError
from ..core.known_models import known_models
from ..core.zoo import WEIGHT_SUFFIXES, model_dir

if TYPE_CHECKING:
    import ipywidgets as w
    import numpy as np

__all__ = [
    "model_choices",
    "selected_model",
    "error_html",
    "status_html",
    "report_rows",
    "rows_html",
    "format_bytes",
    "format_seconds",
    "engine",
    "PanelMixin",
    "TILE_SIZES",
]

TILE_SIZES = (32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
"""The tile sizes the tuner's slider and the tile sweep offer, in pixels."""


def engine() -> Any:
    """``core.engine``, imported when first needed (it pulls in torch kernels; widgets must load fast)."""
    from ..core import engine as engine_module

    return engine_module


def model_choices(search_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[tuple[str, str]]:
    """Dropdown options ``(label, value)``: every zoo name, then weight files found locally.

    Local files are those directly inside ``search_dirs`` and the user model folder; a file
    that is a zoo model's download shows once, under its zoo name.
    """
    zoo = known_models().zoo
    options = [(entry.name, entry.name) for entry in zoo]
    known = {entry.filename for entry in zoo if entry.filename}
    seen: set[str] = set()
    for folder in [*map(Path, search_dirs), model_dir()]:
        if not folder.is_dir():
            continue
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix.lower() in WEIGHT_SUFFIXES and file.name not in known:
                value = str(file.resolve())
                if value not in seen:
                    seen.add(value)
                    options.append((f"{file.name} ({folder})", value))
    return options


def selected_model(dropdown: w.Dropdown) -> str:
    """The model dropdown's value; the error says what to do when nothing is selected."""
    value = dropdown.value
    if value is None:
        raise InvalidParameterError("no model selected: pick one in the model list (or call set_model(...))")
    return str(value)


def format_bytes(count: int | None) -> str:
    if count is None:
        return "not measured"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def format_seconds(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.3g} ms"


def error_html(exc: BaseException, *, action: str) -> str:
    """The error's type and full message, and its traceback folded away: shown, never swallowed."""
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (
        f'<div class="rk-error" style="color:#b00020;white-space:pre-wrap">'
        f"<b>{html.escape(action)} failed — {html.escape(type(exc).__name__)}</b>: {html.escape(str(exc))}"
        f"<details><summary>traceback</summary><pre>{html.escape(trace)}</pre></details></div>"
    )


def status_html(text: str, state: str) -> str:
    """A status line; ``state`` is also a CSS class and a ``data-state`` a browser test can read."""
    colours = {
        "idle": "#555",
        "running": "#0b5cad",
        "done": "#1b7f3b",
        "cancelled": "#a15c00",
        "failed": "#b00020",
    }
    return (
        f'<span class="rk-status rk-status-{state}" data-state="{state}" '
        f'style="color:{colours.get(state, "#555")}">{html.escape(text)}</span>'
    )


def report_rows(report: Any) -> list[tuple[str, str]]:
    """What an ``UpscaleReport`` says, as (label, value) rows: time, speed, memory, tiling."""
    seconds = float(report.seconds)
    in_h, in_w = report.input_size
    out_h, out_w = report.output_size
    megapixels = in_h * in_w / 1e6
    if seconds > 0:
        speed = (
            f"{2 * report.macs / seconds / 1e9:.1f} GFLOP/s effective · {megapixels / seconds:.3g} input MP/s"
        )
    else:
        speed = "—"
    count = f"{report.tiles} tile" + ("" if report.tiles == 1 else "s")
    tiles = "whole image" if not report.tile else f"{report.tile} px, {count}, pad {report.tile_pad}"
    rows = [
        ("elapsed", format_seconds(seconds)),
        ("speed", speed),
        ("peak memory", format_bytes(report.peak_memory_bytes)),
        ("tiles", tiles),
        ("precision", f"{report.precision} on {report.device} ({getattr(report, 'backend', 'torch')})"),
        ("size", f"{in_w}×{in_h} → {out_w}×{out_h}"),
    ]
    fallbacks = report.fp32_fallbacks
    count = fallbacks if isinstance(fallbacks, int) else len(fallbacks or ())
    if count:
        rows.append(("fp32 fallbacks", f"{count} tile(s) re-run in fp32 (non-finite output)"))
    return rows


def rows_html(rows: Iterable[tuple[str, str]], *, css_class: str) -> str:
    body = "".join(
        f'<tr><th style="text-align:left;padding-right:1em;font-weight:600;white-space:nowrap">{html.escape(label)}</th>'
        f'<td data-field="{html.escape(label)}">{html.escape(value)}</td></tr>'
        for label, value in rows
    )
    return f'<table class="{css_class}">{body}</table>'


class PanelMixin:
    """What the tuner and the explorer share: the status line, the error box, button actions,
    the image picker callback and the progress bar.

    The panel that mixes this in builds the ``status``, ``error`` and ``progress`` widgets,
    declares the ``state`` trait and implements ``set_image``; the methods here are the public
    surface a sub-panel (the tile sweep) drives its host through.
    """

    status: w.HTML
    error: w.HTML
    stats: w.HTML
    progress: w.IntProgress
    progress_label: w.Label
    run_button: w.Button
    cancel_button: w.Button
    worker: Any  # a widgets.worker.Worker: runs one job at a time off the kernel's thread
    state: Any  # a traitlets.Unicode on the concrete panel (observable by tests and the browser)
    _image: np.ndarray | None

    def set_image(self, image: Any, name: str | None = None) -> None:
        raise NotImplementedError

    def build_run_controls(
        self, *, run: str, icon: str, unit: str, status: str, style: dict[str, str]
    ) -> None:
        """The run row a job panel shows: Run and Cancel buttons, a progress bar counting
        ``unit``, its label, the status line (starting at ``status``), the error box and stats."""
        import ipywidgets as w  # this module stays importable without it (the helpers above need none)

        self.run_button = w.Button(description=run, button_style="primary", icon=icon)
        self.cancel_button = w.Button(
            description="Cancel", button_style="warning", icon="stop", disabled=True
        )
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description=unit, style=style, layout=w.Layout(width="260px")
        )
        self.progress_label = w.Label("")
        self.status = w.HTML(status_html(status, "idle"))
        self.error = w.HTML("")
        self.stats = w.HTML("")

    @property
    def image(self) -> Any:
        return self._image

    def set_status(self, text: str, state: str) -> None:
        self.status.value = status_html(text, state)
        self.state = state

    def cancel(self) -> bool:
        """Ask the running job to stop (the engine polls between tiles); true when one ran."""
        asked = self.worker.cancel()
        if asked:
            self.cancel_button.disabled = True
            self.set_status("cancelling…", "running")
        return asked

    def show_error(self, exc: BaseException, action: str) -> None:
        self.error.value = error_html(exc, action=action)

    def run_action(self, action: Callable[[], Any], what: str) -> None:
        """Run a button's action; an exception goes to the widget's error box, not the void."""
        self.error.value = ""
        try:
            action()
        except Exception as exc:
            self.show_error(exc, what)

    def _picked(self, source: Any, name: str) -> None:
        self.error.value = ""
        self.set_image(source, name)

    def report_progress(self, done: int, total: int) -> None:
        """A job's progress callback: ``done`` of ``total`` steps onto the progress bar."""
        self.progress.max = max(total, 1)
        self.progress.value = min(done, self.progress.max)
