"""VideoTuner: scrub to a frame of a clip, tune the upscale on it, run the whole clip, compare
frames and play the result.

Tuning is the :class:`~.tuner.UpscaleTuner`, embedded and fed the chosen frame; the whole clip
is one ``core.video.upscale_video`` call on the tuner's worker thread (one job at a time for
both, so they never load models concurrently), with the tuner's settings. Frames for the
scrubber and the before/after view are read one at a time (``core.video.read_video_frame``):
the clip is never held in memory.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import traitlets

from ..core.errors import InvalidParameterError
from ..core.options import DEFAULT_TEMPORAL, TEMPORAL_HELP, TEMPORAL_WORDS, parse_temporal_choice
from ..core.zoo import DEFAULT_MODEL
from .common import PanelMixin, format_seconds, rows_html
from .compare import CompareView
from .previews import DEFAULT_PREVIEW_SIDE
from .tuner import UpscaleTuner
from .worker import JobContext, JobOutcome

if TYPE_CHECKING:
    from ..core.load import ModelInput

__all__ = ["VideoTuner", "INLINE_PLAYER_LIMIT", "default_output_path", "video_rows"]

log = logging.getLogger(__name__)

INLINE_PLAYER_LIMIT = 64 * 2**20
"""Largest result (bytes) embedded in the notebook for inline playback; larger ones are linked."""


def _video() -> Any:
    """``core.video``, imported when first needed (it loads PyAV)."""
    from ..core import video

    return video


def default_output_path(source: Path, outscale: float) -> Path:
    """``clip.mp4`` → ``clip_x2.mp4`` beside it (``clip_x1.5.mp4`` for fractional factors)."""
    return source.with_name(f"{source.stem}_x{outscale:g}{source.suffix or '.mp4'}")


def video_rows(info: Any) -> list[tuple[str, str]]:
    """What a ``VideoInfo`` says, as (label, value) rows."""
    others = [f"{s.kind} ({s.codec})" for s in info.streams if s.index != info.stream_index]
    rows = [
        ("size", f"{info.width}×{info.height}" + (f", rotated {info.rotation}°" if info.rotation else "")),
        ("frames", "unknown" if info.frames is None else str(info.frames)),
        ("frame rate", "variable or unknown" if info.fps is None else f"{float(info.fps):.3f} fps"),
        ("duration", "unknown" if info.duration is None else format_seconds(info.duration)),
        ("video", f"{info.codec}, {info.pix_fmt} ({info.bit_depth}-bit)"),
        ("other streams", ", ".join(others) or "none"),
    ]
    return rows


class VideoTuner(PanelMixin, w.VBox):
    """Upscale a video clip interactively.

    ``source``: a video path. ``output``: where the whole clip goes (default ``<name>_x<outscale>``
    beside the source). ``model``, ``device``, ``threads``, ``memory_budget``,
    ``search_dirs``: as for :class:`UpscaleTuner` (which is embedded as ``self.tuner``).
    ``self.temporal`` is the clip's flicker reduction (``auto``, ``off`` or a strength).
    ``executor``: where jobs run (tests pass ``InlineExecutor()``). ``video_runner``: the
    whole-clip call (default ``core.video.upscale_video``); ``frame_runner``: the tuner's.
    """

    state = traitlets.Unicode("idle")
    """idle, running, done, cancelled or failed: the last run's state (the whole clip, or the
    temporal profile)."""

    def __init__(
        self,
        source: str | os.PathLike[str] | None = None,
        *,
        output: str | os.PathLike[str] | None = None,
        model: ModelInput = DEFAULT_MODEL,
        search_dirs: Sequence[str | os.PathLike[str]] = (),
        device: Any = None,
        threads: int | None = None,
        memory_budget: int | None = None,
        executor: concurrent.futures.Executor | None = None,
        video_runner: Callable[..., Any] | None = None,
        frame_runner: Callable[..., Any] | None = None,
        preview_side: int = DEFAULT_PREVIEW_SIDE,
    ) -> None:
        self.tuner = UpscaleTuner(
            model=model,
            search_dirs=search_dirs,
            device=device,
            threads=threads,
            memory_budget=memory_budget,
            executor=executor,
            runner=frame_runner,
            preview_side=preview_side,
        )
        self.worker = self.tuner.worker  # one job at a time for frame and clip
        self._video_runner = video_runner
        self._image = None
        self.source: Path | None = None
        self.info: Any = None
        self.result_path: Path | None = None
        self.report: Any = None
        self._last_progress: Any = None

        style = {"description_width": "80px"}
        wide = w.Layout(width="340px")
        self._build_clip_controls(style, wide)
        self._build_result_views(style, wide, preview_side)
        self.preview: Any = None
        self.run_button.add_class("rk-video-run")
        self.cancel_button.add_class("rk-video-cancel")
        self.status.add_class("rk-video-status")

        self._lay_out_sections()
        self._connect_events()

        if source is not None:
            self.set_video(source)
        if output is not None:
            self.output.value = os.fspath(output)

    def _build_clip_controls(self, style: dict[str, str], wide: w.Layout) -> None:
        """Section 1: the clip path, its facts, the frame slider, the output and run controls."""
        self.path = w.Text(placeholder="path/to/clip.mp4", description="clip", style=style, layout=wide)
        self.load_button = w.Button(description="Load", icon="folder-open", layout=w.Layout(width="80px"))
        self.details = w.HTML("")
        self.frame = w.IntSlider(
            value=0, min=0, max=0, description="frame", continuous_update=False, style=style, layout=wide
        )
        self.output = w.Text(description="save as", style=style, layout=wide)
        self.overwrite = w.Checkbox(value=False, description="overwrite", indent=False)
        self.resume = w.Checkbox(value=False, description="resume an interrupted run", indent=False)
        self.temporal = w.Combobox(
            value=str(DEFAULT_TEMPORAL),
            options=list(TEMPORAL_WORDS),
            ensure_option=False,
            description="temporal",
            tooltip=f"{TEMPORAL_HELP}; type a strength such as 0.5",
            style=style,
            layout=wide,
        )
        self.build_run_controls(
            run="Upscale whole clip", icon="film", unit="frames", status="load a clip", style=style
        )

    def _build_result_views(self, style: dict[str, str], wide: w.Layout, preview_side: int) -> None:
        """Section 3: the frame comparison, the player and the temporal profile."""
        self.compare_frame = w.IntSlider(
            value=0,
            min=0,
            max=0,
            description="compare",
            continuous_update=False,
            disabled=True,
            style=style,
            layout=wide,
        )
        self.compare = CompareView(
            preview_side=preview_side, layout=w.Layout(width="100%", max_width="720px")
        )
        self.player = w.Video(
            format="mp4", autoplay=False, loop=False, controls=True, layout=w.Layout(max_width="720px")
        )
        self.player_note = w.HTML("")
        self.profile_button = w.Button(
            description="Temporal profile",
            icon="bars",
            tooltip="Upscale a second of the clip from the chosen frame, frame by frame and with the temporal "
            "setting, and show one row of pixels stacked over time for both (flicker draws noise across "
            "the lines)",
            layout=w.Layout(width="160px"),
        )
        self.profile = CompareView(
            preview_side=preview_side, layout=w.Layout(width="100%", max_width="720px")
        )
        self.profile.before_label, self.profile.after_label = "frame-wise", "stabilised"
        self.profile_note = w.HTML("")

    def _lay_out_sections(self) -> None:
        """Stack the three numbered sections (clip, tuner, result) as this box's children."""
        clip_controls = w.VBox(
            [
                w.HBox([self.path, self.load_button]),
                self.details,
                self.frame,
                w.HBox([self.output, self.overwrite]),
                self.temporal,
                self.resume,
                w.HBox([self.run_button, self.cancel_button]),
                w.HBox([self.progress, self.progress_label]),
                self.status,
                self.error,
                self.stats,
            ],
            layout=w.Layout(width="360px"),
        )
        result = w.VBox(
            [
                self.compare_frame,
                self.compare,
                self.player,
                self.player_note,
                self.profile_button,
                self.profile_note,
                self.profile,
            ]
        )
        super().__init__(
            [
                w.HTML("<b>1. Clip and frame</b>"),
                clip_controls,
                w.HTML("<b>2. Tune on that frame</b> (model, tile, outscale, precision)"),
                self.tuner,
                w.HTML("<b>3. Result</b>: compare frames, play it"),
                result,
            ]
        )
        self.add_class("rk-video-tuner")

    def _connect_events(self) -> None:
        """Buttons and sliders → actions; every action reports its error in the panel."""
        self.load_button.on_click(
            lambda _: self.run_action(lambda: self.set_video(self.path.value.strip()), "loading")
        )
        self.run_button.on_click(lambda _: self.run_action(self.run_clip, "starting the clip"))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.profile_button.on_click(
            lambda _: self.run_action(self.show_temporal_profile, "making the profile")
        )
        self.frame.observe(
            lambda change: self.run_action(lambda: self.show_frame(change["new"]), "reading the frame"),
            "value",
        )
        self.compare_frame.observe(
            lambda change: self.run_action(lambda: self.compare_at(change["new"]), "reading the frames"),
            "value",
        )
        self.tuner.outscale.observe(self._on_outscale, "value")

    # ---- public API ---------------------------------------------------------------------
    def set_video(self, source: str | os.PathLike[str]) -> None:
        """Use the clip at ``source``: probe it, show its facts and its first frame."""
        if not os.fspath(source):
            raise InvalidParameterError("type the path of a video file first")
        if self.worker.busy:
            raise InvalidParameterError(
                "a run is in progress; press Cancel (or wait) before changing the clip"
            )
        path = Path(source)
        info = _video().probe_video(path)  # typed error for a missing, corrupt or non-video file
        self.source, self.info = path, info
        self.path.value = os.fspath(path)
        self.details.value = rows_html(video_rows(info), css_class="rk-video-info")
        self._clear_result()
        frames = info.frames
        if frames is None and info.fps and info.duration:  # containers without a count (mkv): estimate
            frames = int(float(info.fps) * info.duration)
        last = (frames or 1) - 1
        self.frame.max = max(0, last)
        if self.frame.value == 0:
            self.show_frame(0)
        else:
            self.frame.value = 0  # the observer shows it
        self.output.value = os.fspath(default_output_path(path, self.tuner.outscale.value))
        self.set_status("ready: tune on a frame, then upscale the whole clip", "idle")

    def show_frame(self, index: int) -> None:
        """Read frame ``index`` of the clip and hand it to the tuner (as its image)."""
        source = self._require_source()
        frame = _video().read_video_frame(source, int(index))
        self._image = frame.image
        self.tuner.set_image(frame.image, f"frame {frame.index} at {float(frame.time):.3f} s")

    def run_clip(self) -> concurrent.futures.Future[JobOutcome[Any]]:
        """Upscale the whole clip with the tuner's settings in the background; returns at once."""
        source = self._require_source()
        target = Path(self.output.value.strip() or default_output_path(source, self.tuner.outscale.value))
        settings = self.tuner.settings()
        temporal = parse_temporal_choice(self.temporal.value, name="temporal")  # typed error when mistyped
        options = {
            **settings.engine_kwargs(),
            "temporal": temporal,
            "device": self.tuner.device,
            "threads": self.tuner.threads,
            "memory_budget": self.tuner.memory_budget,
            "resume": bool(self.resume.value),
            "force": bool(self.overwrite.value),
        }
        self._begin()
        try:
            return self.worker.submit(
                lambda context: self._clip_job(source, target, settings.model, options, context),
                on_progress=self.report_progress,
                on_finish=self._on_clip_done,
            )
        except BaseException:
            self._end()
            raise

    def show_temporal_profile(self) -> concurrent.futures.Future[JobOutcome[Any]]:
        """Profiles of the frame-wise and the stabilised upscale of a second of the clip from the
        chosen frame, side by side, with their flicker figures (E_t against bicubic); in the
        background, with the tuner's settings and the ``temporal`` control (``off`` shows
        ``auto``)."""
        source = self._require_source()
        settings = self.tuner.settings()
        temporal = parse_temporal_choice(self.temporal.value, name="temporal")
        options = {
            **settings.engine_kwargs(),
            "device": self.tuner.device,
            "memory_budget": self.tuner.memory_budget,
        }
        start = int(self.frame.value)
        if self.frame.max > 0:
            start = min(start, self.frame.max - 1)  # at least two frames to compare

        def job(context: JobContext) -> Any:
            from ..core.video.temporal_preview import temporal_preview

            model = self.tuner.load_selected_model(settings.model)
            context.raise_if_cancelled()
            self.set_status("making the temporal profile…", "running")
            return temporal_preview(
                model, source, start=start, temporal=temporal, cancel=context.cancelled, **options
            )

        self._begin()
        try:
            return self.worker.submit(job, on_finish=self._on_profile_done)
        except BaseException:
            self._end()
            raise

    def compare_at(self, index: int) -> None:
        """Show frame ``index`` of the clip and of the result side by side."""
        if self.result_path is None:
            raise InvalidParameterError("there is no result yet; upscale the whole clip first")
        video = _video()
        before = video.read_video_frame(self._require_source(), int(index)).image
        after = video.read_video_frame(self.result_path, int(index)).image
        self.compare.after_label = f"upscaled frame {index}"
        self.compare.set_images(before, after)

    def close(self) -> None:
        self.tuner.close()
        super().close()

    # ---- internals ----------------------------------------------------------------------
    def set_image(self, image: Any, name: str | None = None) -> None:  # PanelMixin's picker hook
        self.tuner.set_image(image, name)

    def _require_source(self) -> Path:
        if self.source is None:
            raise InvalidParameterError("no clip yet: type its path and press Load, or call set_video(path)")
        return self.source

    def _clear_result(self) -> None:
        self.result_path, self.report = None, None
        self.compare_frame.disabled = True
        self.compare.clear()
        self.player.value = b""
        self.player_note.value = ""
        self.stats.value = ""

    def _on_outscale(self, change: dict[str, Any]) -> None:
        if self.source is None:
            return
        old_default = os.fspath(default_output_path(self.source, change["old"]))
        if self.output.value in ("", old_default):  # follow the factor until the user types a name
            self.output.value = os.fspath(default_output_path(self.source, change["new"]))

    def _begin(self) -> None:
        self.error.value = ""
        self.progress.value, self.progress.max, self.progress_label.value = 0, 1, ""
        self._last_progress = None
        for control in (self.run_button, self.load_button, self.tuner.run_button):
            control.disabled = True
        self.cancel_button.disabled = False
        self.set_status("loading the model…", "running")

    def _end(self) -> None:
        for control in (self.run_button, self.load_button, self.tuner.run_button):
            control.disabled = False
        self.cancel_button.disabled = True

    # ---- worker side (runs on the worker thread) ----------------------------------------
    def _clip_job(
        self, source: Path, target: Path, model_key: str, options: dict[str, Any], context: JobContext
    ) -> Any:
        run = self._video_runner or _video().upscale_video
        model = self.tuner.load_selected_model(model_key)
        context.raise_if_cancelled()
        self.set_status("upscaling the clip…", "running")

        def progress(update: Any) -> None:
            self._last_progress = update
            context.progress(update.frames_done, update.frames_total or update.frames_done)

        return run(model, source, target, **options, progress=progress, cancel=context.cancelled)

    def report_progress(self, done: int, total: int) -> None:
        super().report_progress(done, total)
        update = self._last_progress
        text = f"{done}/{total}"
        if update is not None and update.fps:
            text += f" · {update.fps:.2f} frames/s"
            if update.eta_seconds is not None:
                text += f" · {format_seconds(update.eta_seconds)} left"
        self.progress_label.value = text

    def _on_clip_done(self, outcome: JobOutcome[Any]) -> None:
        if outcome.status == "done":
            report: Any = outcome.result
            self.report, self.result_path = report, Path(report.dst)
            self.stats.value = rows_html(self._report_rows(report), css_class="rk-report")
            self.set_status(f"done in {format_seconds(report.seconds)}: {report.dst}", "done")
            frames = max(1, int(report.frames))
            self.compare_frame.max = frames - 1
            self.compare_frame.disabled = False
            index = min(self.frame.value, frames - 1)
            if self.compare_frame.value == index:
                self.compare_at(index)
            else:
                self.compare_frame.value = index  # the observer shows it
            self._show_player(self.result_path)
        elif outcome.status == "cancelled":
            self.set_status("cancelled — finished chunks are kept: tick 'resume' to continue", "cancelled")
        else:
            assert outcome.error is not None
            self.show_error(outcome.error, "upscaling the clip")
            self.set_status("failed (details below)", "failed")
        self._end()

    def _on_profile_done(self, outcome: JobOutcome[Any]) -> None:
        if outcome.status == "done":
            preview: Any = outcome.result
            self.preview = preview
            stretch = 4  # rows per frame: a second of video is 24 rows, too thin to see otherwise
            self.profile.set_images(
                np.repeat(preview.frame_wise, stretch, axis=0), np.repeat(preview.stabilised, stretch, axis=0)
            )
            first, stop = preview.frames
            self.profile_note.value = (
                f"Row {preview.row} of frames {first}–{stop - 1}, time running down. Flicker (E<sub>t</sub> "
                f"against bicubic, lower is steadier): frame-wise {preview.error_frame_wise:.3f}, stabilised "
                f"({preview.temporal}) {preview.error_stabilised:.3f}."
            )
            self.set_status("temporal profile ready", "done")
        elif outcome.status == "cancelled":
            self.set_status("cancelled", "cancelled")
        else:
            assert outcome.error is not None
            self.show_error(outcome.error, "making the profile")
            self.set_status("failed (details below)", "failed")
        self._end()

    def _show_player(self, path: Path) -> None:
        size = path.stat().st_size
        if size > INLINE_PLAYER_LIMIT:
            self.player.value = b""
            self.player_note.value = (
                f"The result ({size / 2**20:.0f} MiB) is too large to embed here; open {path} in a player."
            )
            return
        self.player.format = path.suffix.lstrip(".") or "mp4"
        self.player.value = path.read_bytes()
        self.player_note.value = f"{path} ({size / 2**20:.1f} MiB)"

    @staticmethod
    def _report_rows(report: Any) -> list[tuple[str, str]]:
        rows = [
            ("elapsed", format_seconds(report.seconds)),
            ("speed", f"{report.fps:.2f} frames/s"),
            ("frames", f"{report.frames} ({report.chunks_reused} of {report.chunks} chunks reused)"),
            (
                "size",
                f"{report.input_size[0]}×{report.input_size[1]} → {report.output_size[0]}×{report.output_size[1]}",
            ),
            (
                "codec",
                f"{report.codec}, {report.pix_fmt}" + ("" if report.crf is None else f", crf {report.crf}"),
            ),
            ("kept", ", ".join(report.copied_streams) or "no other streams"),
        ]
        temporal = getattr(report, "temporal", None)
        if temporal is not None:
            rows.append(("temporal", f"strength {temporal['strength']:g}, window {temporal['window']}"))
        extra = getattr(report, "frames_decoded_extra", 0)
        if extra:
            warm = getattr(report, "warmup_frames", 0)
            rows.append(("extra decode", f"{extra} frames decoded, not written ({warm} upscaled as warm-up)"))
        if report.requested_size is not None:
            asked = report.requested_size
            rows.append(("rounded", f"from {asked[0]}×{asked[1]} for {report.pix_fmt}"))
        if report.dropped_streams:
            rows.append(("dropped", ", ".join(report.dropped_streams)))
        return rows
