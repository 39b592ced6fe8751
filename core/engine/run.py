"""One path through the engine for images, batches and frames: check, plan, run, report.

:func:`run_upscale` (``api.py``) is :func:`check_options` → :func:`plan_upscale` →
:func:`run_planned_upscale`; the frame upscaler (``stream.py``) plans once and calls
:func:`upscale_planned_image` per frame. Both count their work in a :class:`RunTally` and build
their report with :func:`report_of`, which reads the backend and precision from the network
that ran (not from the request), so images, frames, video and jobs report the same way.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import PrecisionNotSupportedError, UpscaleOutOfMemoryError
from ..load.modellike import UpscaleModelLike
from ..options import TILE_AUTO, TILE_WHOLE, Tile, UpscaleOptions, check_whole_number
from .backends import (
    MEASURE_MIN_PIXELS,
    NOT_MEASURED_YET,
    Selection,
    WindowRunner,
    get_backend,
    open_runner,
    select_backend,
)
from .channels import ChannelPlan, plan_channels
from .image_tensors import ImageRecord, assemble_output, read_images, to_caller_image
from .memory import PeakMemory, default_budget
from .modelinfo import ModelFacts, model_facts, probe_activations
from .output_resize import resize_hwc, upscaled_size
from .precision_probe import probe_reduced_precision, warn_fp32_fallback
from .runner import Progress, is_out_of_memory, make_plan, run_tiles
from .sizing import (
    DEFAULT_BLEND,
    DEFAULT_BORDER,
    MIN_TILE,
    resolve_tile,
    resolve_tile_pad,
    select_for_device,
    tile_for_budget,
)
from .threads import torch_threads
from .tiling import TilePlan

__all__ = [
    "UpscaleReport",
    "UpscaleResult",
    "CheckedOptions",
    "UpscaleJob",
    "RunTally",
    "check_options",
    "plan_upscale",
    "caller_threads",
    "engine_context",
    "upscale_planned_image",
    "run_planned_upscale",
    "macs_per_pixel",
    "report_of",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpscaleReport:
    """What a call did. ``tile`` is the core size used (0: one window, the whole image);
    ``window`` the (height, width) fed to the network; ``macs`` counts every window (overlaps,
    TTA and fp32 recomputes included); ``peak_memory_bytes`` is CUDA's max_memory_allocated or
    the process's resident high-water mark on Linux (reset at the start of the call; process-
    wide, so concurrent work is included), else None. ``backend`` and ``precision`` are those
    the network ran in."""

    tile: int
    tile_pad: int
    tiles: int
    precision: str
    device: str
    seconds: float
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    macs: int
    peak_memory_bytes: int | None
    fp32_fallbacks: int
    images: int = 1
    window: tuple[int, int] = (0, 0)
    blend: int = 0
    border: int = 0
    tta: bool = False
    backend: str = "torch"
    backend_note: str | None = None
    """Why this backend ran (``auto``'s reason), or that ``auto`` fell back to torch and why."""


@dataclass(frozen=True)
class UpscaleResult:
    image: Any
    report: UpscaleReport


@dataclass(frozen=True)
class CheckedOptions:
    """One call's options, checked against the model (no image read yet)."""

    facts: ModelFacts
    options: UpscaleOptions
    device: torch.device
    precision: str
    tile: Tile
    pad: int
    blend: int
    border: int
    memory_budget: int | None
    started: float
    selection: Selection


@dataclass
class UpscaleJob:
    """Everything one call decided before running (no state survives the call)."""

    checked: CheckedOptions
    network: WindowRunner
    channels: ChannelPlan
    record: ImageRecord
    frames: Any
    out_size: tuple[int, int]
    tile: int | None
    plan: TilePlan
    backend_reason: str = ""

    @property
    def facts(self) -> ModelFacts:
        return self.checked.facts

    @property
    def pad(self) -> int:
        return self.checked.pad

    @property
    def border(self) -> int:
        return self.checked.border

    @property
    def blend(self) -> int:
        return self.checked.blend


@dataclass
class RunTally:
    """The work a planned job has done so far: images, network input pixels computed (every
    window, overlaps included) and seconds."""

    images: int = 0
    computed_pixels: int = 0
    seconds: float = 0.0


def check_options(model: UpscaleModelLike, options: UpscaleOptions) -> CheckedOptions:
    """Read the model's facts and check every option: each by its field's own check (the
    definition's, ``UpscaleOptions.checked``), then against the model and machine (raises on bad input)."""
    started = time.perf_counter()
    facts = model_facts(model)
    # checks the backend and precision now (without measuring); plan_upscale may measure for auto
    dev, selection = select_for_device(
        facts, options.backend, options.precision, options.device, measure=False
    )
    values = options.checked()
    tile = resolve_tile(values["tile"], facts)
    pad = resolve_tile_pad(facts, values["tile_pad"])
    blend = DEFAULT_BLEND if values["blend"] is None else values["blend"]
    border = DEFAULT_BORDER if values["border"] is None else values["border"]
    budget = values["memory_budget"]
    return CheckedOptions(
        facts, options, dev, selection.precision, tile, pad, blend, border, budget, started, selection
    )


def _windows(facts: ModelFacts, record: ImageRecord, tile: int | None, checked: CheckedOptions) -> int:
    m = facts.multiple_of
    return make_plan(record.height, record.width, tile, checked.pad, checked.border, m, checked.blend).count


def _fewer_windows(
    selection: Selection,
    tile: int,
    auto_tile: Callable[[Selection], int],
    facts: ModelFacts,
    record: ImageRecord,
    checked: CheckedOptions,
) -> tuple[Selection, int]:
    """Keep ``auto``'s measured choice unless it would cut this image into more windows than torch.

    The measurement times small windows, where every backend pays the same context pad; a backend
    whose windows are capped (OpenVINO keeps no striped tail, so its windows are bounded by
    activation memory) would recompute that pad around every extra window of a large image, which
    the measurement cannot see. Then torch, in the precision it picks, runs the job instead.
    """
    torch_backend = get_backend("torch")
    fallback = Selection(
        "auto",
        torch_backend,
        torch_backend.resolve_precision(facts, checked.options.precision, checked.device),
        "",
    )
    torch_tile = auto_tile(fallback)
    ours, theirs = _windows(facts, record, tile, checked), _windows(facts, record, torch_tile, checked)
    if ours <= theirs:
        return selection, tile
    reason = (
        f"{selection.backend.name} would run this image in {ours} windows, torch in {theirs}: "
        f"torch {fallback.precision} (auto measured {selection.backend.name} faster on small windows)"
    )
    log.info("backend auto: %s", reason)
    return Selection("auto", torch_backend, fallback.precision, reason), torch_tile


def _auto_tile(
    checked: CheckedOptions,
    record: ImageRecord,
    channels: ChannelPlan,
    out_size: tuple[int, int],
    selection: Selection,
) -> tuple[Selection, int]:
    """``tile="auto"``: the largest tile the budget holds once the output buffers are set aside."""
    facts, options = checked.facts, checked.options
    out_h, out_w = out_size
    final_c = channels.final_channels
    net_bytes = record.height * facts.scale * record.width * facts.scale * final_c * 4
    # float buffer, the resized copy (a whole batch of them for torch) and the quantised result
    reserved = net_bytes + out_h * out_w * final_c * (4 * record.batch + 2)
    budget = checked.memory_budget
    room = budget if budget is not None else max(1, default_budget(checked.device) - reserved)

    def auto_tile(chosen: Selection) -> int:
        return tile_for_budget(
            facts,
            record.height,
            record.width,
            chosen.backend,
            chosen.precision,
            room,
            checked.pad,
            checked.border,
            channels.batch,
            options.tta,
        )

    tile_value = auto_tile(selection)
    only_there = options.precision == "int8"  # int8 runs on OpenVINO alone
    if options.backend == "auto" and selection.backend.name != "torch" and not only_there:
        selection, tile_value = _fewer_windows(selection, tile_value, auto_tile, facts, record, checked)
    return selection, tile_value


def plan_upscale(checked: CheckedOptions, image: Any) -> UpscaleJob:
    """Read the image and decide channels, output size, tiles and the network copy to run."""
    facts, options = checked.facts, checked.options
    record, frames = read_images(image, bgr=options.bgr)
    selection = checked.selection
    # now the job's size is known, auto may measure (once per model) if the job is large enough;
    # any other answer the check got (a stored decision, no OpenVINO, not a CPU) is final, and
    # asking again would only re-read the store and re-check the weights
    job_pixels = record.height * record.width * record.batch
    if (
        options.backend == "auto"
        and selection.reason == NOT_MEASURED_YET
        and job_pixels >= MEASURE_MIN_PIXELS
    ):
        selection = select_backend(
            "auto", facts, options.precision, checked.device, job_pixels=job_pixels, threads=options.threads
        )
    channels = plan_channels(
        record.colour_channels, record.has_alpha, options.alpha, facts.input_channels, facts.output_channels
    )
    default_scale = facts.default_outscale or facts.scale
    out_size = upscaled_size(
        record.height,
        record.width,
        default_scale,
        outscale=options.outscale,
        target_width=options.width,
        target_height=options.height,
    )
    tile_value: int | None
    if checked.tile == TILE_AUTO:
        selection, tile_value = _auto_tile(checked, record, channels, out_size, selection)
    elif checked.tile == TILE_WHOLE:
        tile_value = None
    else:
        tile_value = int(checked.tile)
    m = facts.multiple_of
    plan = make_plan(record.height, record.width, tile_value, checked.pad, checked.border, m, checked.blend)
    if plan.count > 1 and facts.policy.tiling != "supported":
        log.warning(
            "%s says tiling is %s for it; running %d tiles anyway (tile='whole' avoids tiles, memory permitting)",
            facts.architecture or type(facts.module).__name__,
            facts.policy.tiling,
            plan.count,
        )
    network = open_runner(selection, facts, checked.device, tta=options.tta, threads=options.threads)
    return UpscaleJob(
        checked, network, channels, record, frames, out_size, tile_value, plan, selection.reason
    )


@contextlib.contextmanager
def caller_threads(options: UpscaleOptions) -> Iterator[None]:
    """The call's ``threads`` over all it runs, the planning's probe forwards included, through
    ``threads.py`` (the one mechanism that sets the count); a bad count is a typed error first."""
    if options.threads is not None:
        check_whole_number(options.threads, "threads", minimum=1)
    with torch_threads(options.threads):
        yield


@contextlib.contextmanager
def engine_context(options: UpscaleOptions) -> Iterator[None]:
    """What every run of a planned job runs inside: the call's thread count and inference mode."""
    with caller_threads(options), torch.inference_mode():
        yield


def upscale_planned_image(
    job: UpscaleJob,
    frame: torch.Tensor,
    target: torch.Tensor | None,
    progress: Progress,
    images_left: int,
    tally: RunTally,
) -> torch.Tensor:
    """One image of a planned job → float32 H×W×C at the final size (written into ``target``
    when given), counted in ``tally``. Runs inside :func:`engine_context`."""
    out = _upscale_image(job, frame, target, progress, images_left)
    tally.images += 1
    tally.computed_pixels += job.plan.computed_pixels()
    return out


def _upscale_image(
    job: UpscaleJob, frame: torch.Tensor, target: torch.Tensor | None, progress: Progress, images_left: int
) -> torch.Tensor:
    facts, channels = job.facts, job.channels
    height, width = frame.shape[-2:]
    scale = facts.scale
    net_input = channels.network_input(frame)
    resized_later = job.out_size != (height * scale, width * scale)
    shape = (height * scale, width * scale, channels.final_channels)
    while True:
        plan = job.plan
        if target is not None and not resized_later:
            buffer = target.zero_() if plan.blend else target
        else:
            buffer = torch.zeros(shape) if plan.blend else torch.empty(shape)
        if channels.alpha == "resize":
            alpha = frame[channels.colour_in : channels.colour_in + 1]
            buffer[:, :, channels.colour_out] = resize_hwc(alpha.permute(1, 2, 0), shape[0], shape[1])[
                :, :, 0
            ]
        try:
            run_tiles(job.network, channels, net_input, buffer, plan, job.border, progress)
            break
        except PrecisionNotSupportedError:
            if job.checked.options.precision != "auto" or job.network.precision == "fp32":
                raise
            _continue_in_fp32(job, progress, images_left)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            _shrink_after_oom(job, exc, height, width, progress, images_left)
    channels.finish(buffer)
    buffer.clamp_(0.0, 1.0)  # the network overshoots a little; every output kind lives in 0..1
    out = resize_hwc(buffer, *job.out_size)
    if target is not None and resized_later:
        target.copy_(out)
        return target
    return out


def _continue_in_fp32(job: UpscaleJob, progress: Progress, images_left: int) -> None:
    """``auto`` chose a reduced precision the network failed in on a real window (its probe had
    passed): say so once, and run this image and the rest in fp32 with torch."""
    verdict = probe_reduced_precision(job.facts, job.network.precision, job.checked.device)
    warn_fp32_fallback(job.facts, job.network.precision, verdict.reason)
    options = job.checked.options
    job.network = get_backend("torch").open(
        job.facts, "fp32", job.checked.device, tta=options.tta, threads=options.threads
    )
    progress.total = progress.done + job.plan.count * images_left


def _shrink_after_oom(
    job: UpscaleJob, exc: BaseException, height: int, width: int, progress: Progress, images_left: int
) -> None:
    if job.network.device.type == "cuda":
        torch.cuda.empty_cache()
    current = job.tile or max(job.plan.window)
    m = job.facts.multiple_of
    smallest = max(MIN_TILE, m)
    if current <= smallest:
        raise UpscaleOutOfMemoryError(
            f"out of memory on {job.network.device} even with {current}-px tiles ({exc}). Free memory (close other "
            "programs or models), use precision='fp16'/'bf16', or run on another device."
        ) from exc
    new_tile = max(smallest, (current // 2) // m * m)
    log.warning(
        "out of memory with %d-px tiles on %s; retrying with %d-px tiles",
        current,
        job.network.device,
        new_tile,
    )
    job.tile = new_tile
    job.plan = make_plan(height, width, new_tile, job.pad, job.border, m, job.blend)
    # done stays monotonic: the restarted image and the ones after it are still to do
    progress.total = progress.done + job.plan.count * images_left


def macs_per_pixel(facts: ModelFacts) -> float:
    """Multiply-accumulates per network input pixel (0 when the model's cost is unknown)."""
    if facts.macs_per_pixel is not None:
        return float(facts.macs_per_pixel)
    probe = probe_activations(facts)
    return probe.macs_per_pixel if probe is not None else 0.0


def report_of(job: UpscaleJob, tally: RunTally, *, peak_memory_bytes: int | None = None) -> UpscaleReport:
    """The report of the work in ``tally``: backend, precision and fp32 recomputes as the
    network ran them; tiles and MACs as counted."""
    checked, network = job.checked, job.network
    options = checked.options
    macs = (
        macs_per_pixel(checked.facts) * tally.computed_pixels * job.channels.batch * (8 if options.tta else 1)
    )
    return UpscaleReport(
        tile=0 if job.plan.count == 1 else int(job.tile or max(job.plan.window)),
        tile_pad=checked.pad,
        tiles=job.plan.count * tally.images,
        precision=network.precision,
        device=str(checked.device),
        seconds=tally.seconds,
        input_size=(job.record.height, job.record.width),
        output_size=job.out_size,
        macs=int(macs),
        peak_memory_bytes=peak_memory_bytes,
        fp32_fallbacks=network.fp32_fallbacks,
        images=tally.images,
        window=job.plan.window,
        blend=job.plan.blend,
        border=checked.border,
        tta=options.tta,
        backend=network.backend,
        backend_note=getattr(network, "note", None)
        or f"{job.backend_reason}: {network.backend} {network.precision}",
    )


def run_planned_upscale(
    job: UpscaleJob,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> UpscaleResult:
    """Run a planned job: every tile of every image, then the result and its report."""
    checked, record, channels = job.checked, job.record, job.channels
    out_h, out_w = job.out_size
    tracker = Progress(total=job.plan.count * record.batch, callback=progress, cancel=cancel)
    tally = RunTally()
    with engine_context(checked.options), PeakMemory(checked.device) as peak:
        if progress is not None:
            progress(0, tracker.total)
        batch_out = None
        results: list[Any] = []
        for index, frame in enumerate(job.frames):
            if record.kind == "torch" and batch_out is None:
                # a normal tensor, not an inference one: a caller outside inference mode may
                # change the result in place or feed it to autograd (inference tensors refuse both)
                with torch.inference_mode(False):
                    batch_out = torch.empty(
                        (record.batch, out_h, out_w, channels.final_channels), dtype=torch.float32
                    )
            target = batch_out[index] if batch_out is not None else None
            out = upscale_planned_image(job, frame, target, tracker, record.batch - index, tally)
            if batch_out is None:
                results.append(to_caller_image(out, record))
            del out
        tracker.check_cancel()
    result = assemble_output(record, batch_out) if batch_out is not None else results[0]
    tally.seconds = time.perf_counter() - checked.started
    return UpscaleResult(result, report_of(job, tally, peak_memory_bytes=peak.peak()))
