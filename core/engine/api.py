"""The public engine API: upscale an image with a loaded model.

Stateless and thread-safe: every call builds its own converted copy of the weights and keeps
nothing on the model or on module globals. ``threads`` sets PyTorch's process-wide thread
count for the call; calls that set it are serialised and the count is restored (``threads.py``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InvalidParameterError, PrecisionNotSupportedError, UpscaleOutOfMemoryError
from ..load.policy import GENERIC_MAX_TILE_PAD, UNKNOWN_RECEPTIVE_FIELD_PAD
from ..options import TILE_AUTO, TILE_WHOLE, Tile, UpscaleOptions, parse_tile
from .backends import Backend, Selection, WindowRunner, get_backend, open_runner, select_backend
from .channels import ChannelPlan, plan_channels
from .images import ImageRecord, assemble_output, read_images, write_image
from .memory import PeakMemory, check_budget, default_budget
from .modelinfo import ModelFacts, model_facts, probe_activations
from .precision import resolve_device, resolve_precision
from .precision_probe import probe_reduced_precision, warn_fp32_fallback
from .resize import output_size, resize_hwc
from .runner import Progress, is_out_of_memory, make_plan, padded_size, run_tiles
from .threads import torch_threads
from .tiling import TilePlan

__all__ = [
    "upscale",
    "run_upscale",
    "check_options",
    "plan_job",
    "run_job",
    "CheckedOptions",
    "UpscaleJob",
    "UpscaleReport",
    "UpscaleResult",
    "choose_tile",
    "estimate_tile_memory",
    "resolve_precision",
    "default_tile_pad",
    "DEFAULT_BORDER",
    "DEFAULT_BLEND",
]

log = logging.getLogger(__name__)

DEFAULT_BORDER = 0
"""Reflected border added around the whole image before inference (input pixels)."""
DEFAULT_BLEND = 0
"""Cross-fade half-width at tile seams (input pixels); 0 = crop the pad (chosen by measurement)."""
MIN_TILE = 16


@dataclass(frozen=True)
class UpscaleReport:
    """What a call did. ``tile`` is the core size used (0: one window, the whole image);
    ``window`` the (height, width) fed to the network; ``macs`` counts every window (overlaps,
    TTA and fp32 recomputes included); ``peak_memory_bytes`` is CUDA's max_memory_allocated or
    the process's resident high-water mark on Linux (reset at the start of the call; process-
    wide, so concurrent work is included), else None."""

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


def default_tile_pad(facts: ModelFacts) -> int:
    """The architecture policy's pad, else the receptive field where that is affordable (up to
    ``GENERIC_MAX_TILE_PAD``), else ``UNKNOWN_RECEPTIVE_FIELD_PAD``; rounded up to the size multiple."""
    m = facts.multiple_of
    pad = facts.policy.tile_pad
    if pad is None:
        rf = facts.receptive_field
        pad = UNKNOWN_RECEPTIVE_FIELD_PAD if rf is None else min(rf, GENERIC_MAX_TILE_PAD)
    return -(-pad // m) * m


def _resolve_pad(facts: ModelFacts, tile_pad: Any) -> int:
    """The caller's tile pad, or the model's default when it gave none."""
    return default_tile_pad(facts) if tile_pad is None else _check_int(tile_pad, "tile_pad", minimum=0)


def _check_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return value


def _select(
    facts: ModelFacts, backend: str, precision: str, device: Any, **measure: Any
) -> tuple[torch.device, Selection]:
    dev = resolve_device(device, facts.device)
    return dev, select_backend(backend, facts, precision, dev, **measure)


def estimate_tile_memory(
    model: Any,
    tile: int,
    *,
    tile_pad: int | None = None,
    precision: str = "auto",
    device: Any = None,
    batch_items: int = 1,
    tta: bool = False,
    backend: str = "auto",
) -> int:
    """Bytes one forward of a ``tile`` + 2·pad square window needs (weights copy included).

    ``backend="auto"`` estimates for the stored decision of this machine and model (torch when
    none is stored yet); an estimate never measures."""
    facts = model_facts(model)
    _check_int(tile, "tile", minimum=1)
    _dev, selection = _select(facts, backend, precision, device, measure=False)
    pad = _resolve_pad(facts, tile_pad)
    m = facts.multiple_of
    window = -(-(tile + 2 * pad) // m) * m
    used, engine = selection.precision, selection.backend
    per_pixel = engine.bytes_per_pixel(facts, used, batch_items=batch_items, tta=tta)
    return int(engine.fixed_bytes(facts, used) + per_pixel * window * window)


def _choose(
    facts: ModelFacts,
    height: int,
    width: int,
    engine: Backend,
    precision: str,
    budget: int,
    pad: int,
    border: int,
    batch_items: int,
    tta: bool,
) -> int:
    m = facts.multiple_of
    per_pixel = engine.bytes_per_pixel(facts, precision, batch_items=batch_items, tta=tta)
    room = budget - engine.fixed_bytes(facts, precision)
    ph, pw = padded_size(height, width, border, m)
    # a backend may cap the window (bigger ones would cost memory and gain no speed)
    cap = engine.max_window(facts)
    if per_pixel * ph * pw <= room and (cap is None or max(ph, pw) <= cap):
        return max(ph, pw)
    side = math.isqrt(max(0, int(room / per_pixel)))
    if cap is not None:
        side = min(side, cap)
    tile = (side - 2 * pad) // m * m
    if tile < max(MIN_TILE, m):
        log.warning(
            "the memory budget (%d MB) fits no useful tile with pad %d; trying %d-px tiles anyway",
            budget >> 20,
            pad,
            max(MIN_TILE, m),
        )
        return max(MIN_TILE, m)
    return tile


def choose_tile(
    model: Any,
    height: int,
    width: int,
    *,
    precision: str = "auto",
    device: Any = None,
    memory_budget: int | None = None,
    tile_pad: int | None = None,
    batch_items: int = 1,
    tta: bool = False,
    border: int = DEFAULT_BORDER,
    backend: str = "auto",
) -> int:
    """The tile ``tile="auto"`` picks: the largest core whose window fits the memory budget.

    A value ≥ both sides (one window, no seams) when the whole image fits. ``memory_budget``
    (bytes for the tile computation) defaults to half the free RAM (CPU) or 80 % of free VRAM.
    """
    facts = model_facts(model)
    dev, selection = _select(facts, backend, precision, device, measure=False)
    budget = check_budget(memory_budget) or default_budget(dev)
    pad = _resolve_pad(facts, tile_pad)
    return _choose(
        facts, height, width, selection.backend, selection.precision, budget, pad, border, batch_items, tta
    )


def _resolve_tile(tile: Any, facts: ModelFacts) -> Tile:
    value = parse_tile(tile)
    if isinstance(value, int) and value < facts.multiple_of:
        raise InvalidParameterError(
            f"tile {value} is smaller than this model's size multiple {facts.multiple_of} (a pixel-unshuffle model); "
            f"use a tile of at least {facts.multiple_of} pixels, or 'auto'"
        )
    return value


def _macs_per_pixel(facts: ModelFacts) -> float:
    if facts.macs_per_pixel is not None:
        return float(facts.macs_per_pixel)
    probe = probe_activations(facts)
    return probe.macs_per_pixel if probe is not None else 0.0


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


def _run_image(
    job: UpscaleJob, frame: torch.Tensor, target: torch.Tensor | None, progress: Progress, images_left: int
) -> torch.Tensor:
    """One image → float32 H×W×C at the final size (written into ``target`` when given)."""
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


def check_options(model: Any, options: UpscaleOptions) -> CheckedOptions:
    """Read the model's facts and check every option against them (raises on bad input)."""
    started = time.perf_counter()
    facts = model_facts(model)
    # checks the backend and precision now (without measuring); plan_job may measure for auto
    dev, selection = _select(facts, options.backend, options.precision, options.device, measure=False)
    used = selection.precision
    tile = _resolve_tile(options.tile, facts)
    pad = _resolve_pad(facts, options.tile_pad)
    blend = DEFAULT_BLEND if options.blend is None else _check_int(options.blend, "blend", minimum=0)
    border = DEFAULT_BORDER if options.border is None else _check_int(options.border, "border", minimum=0)
    budget = check_budget(options.memory_budget)
    if options.threads is not None:
        _check_int(options.threads, "threads", minimum=1)
    return CheckedOptions(facts, options, dev, used, tile, pad, blend, border, budget, started, selection)


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


def plan_job(checked: CheckedOptions, image: Any) -> UpscaleJob:
    """Read the image and decide channels, output size, tiles and the network copy to run."""
    facts, options = checked.facts, checked.options
    record, frames = read_images(image, bgr=options.bgr)
    selection = checked.selection
    if options.backend == "auto":  # now the job's size is known: auto may measure (once per model)
        selection = select_backend(
            "auto",
            facts,
            options.precision,
            checked.device,
            job_pixels=record.height * record.width * record.batch,
            threads=options.threads,
        )
    channels = plan_channels(
        record.colour_channels, record.has_alpha, options.alpha, facts.input_channels, facts.output_channels
    )
    default_scale = facts.default_outscale or facts.scale
    out_size = output_size(
        record.height,
        record.width,
        default_scale,
        outscale=options.outscale,
        target_width=options.width,
        target_height=options.height,
    )
    out_h, out_w = out_size
    final_c = channels.final_channels
    tile_value: int | None
    if checked.tile == TILE_AUTO:
        net_bytes = record.height * facts.scale * record.width * facts.scale * final_c * 4
        # float buffer, the resized copy (a whole batch of them for torch) and the quantised result
        reserved = net_bytes + out_h * out_w * final_c * (4 * record.batch + 2)
        budget = checked.memory_budget
        room = budget if budget is not None else max(1, default_budget(checked.device) - reserved)

        def auto_tile(chosen: Selection) -> int:
            return _choose(
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


def run_job(
    job: UpscaleJob,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> UpscaleResult:
    """Run a planned job: every tile of every image, then the result and its report."""
    checked, record, channels = job.checked, job.record, job.channels
    facts, options, dev = checked.facts, checked.options, checked.device
    out_h, out_w = job.out_size
    final_c = channels.final_channels
    tracker = Progress(total=job.plan.count * record.batch, callback=progress, cancel=cancel)
    computed = 0
    with torch_threads(options.threads), PeakMemory(dev) as peak, torch.inference_mode():
        if progress is not None:
            progress(0, tracker.total)
        batch_out = None
        results: list[Any] = []
        for index, frame in enumerate(job.frames):
            if record.kind == "torch" and batch_out is None:
                # a normal tensor, not an inference one: a caller outside inference mode may
                # change the result in place or feed it to autograd (inference tensors refuse both)
                with torch.inference_mode(False):
                    batch_out = torch.empty((record.batch, out_h, out_w, final_c), dtype=torch.float32)
            target = batch_out[index] if batch_out is not None else None
            out = _run_image(job, frame, target, tracker, record.batch - index)
            computed += job.plan.computed_pixels()
            if batch_out is None:
                results.append(write_image(out, record))
            del out
        tracker.check_cancel()
    result = assemble_output(record, batch_out) if batch_out is not None else results[0]
    macs = _macs_per_pixel(facts) * computed * channels.batch * (8 if options.tta else 1)
    report = UpscaleReport(
        tile=0 if job.plan.count == 1 else int(job.tile or max(job.plan.window)),
        tile_pad=checked.pad,
        tiles=job.plan.count * record.batch,
        precision=job.network.precision,
        device=str(dev),
        seconds=time.perf_counter() - checked.started,
        input_size=(record.height, record.width),
        output_size=job.out_size,
        macs=int(macs),
        peak_memory_bytes=peak.peak(),
        fp32_fallbacks=job.network.fp32_fallbacks,
        images=record.batch,
        window=job.plan.window,
        blend=job.plan.blend,
        border=checked.border,
        tta=options.tta,
        backend=job.network.backend,
        backend_note=getattr(job.network, "note", None)
        or f"{job.backend_reason}: {job.network.backend} {job.network.precision}",
    )
    return UpscaleResult(result, report)


def run_upscale(
    model: Any,
    image: Any,
    *,
    outscale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    tile: Tile | None = TILE_AUTO,
    tile_pad: int | None = None,
    precision: str = "auto",
    alpha: str = "model",
    tta: bool = False,
    device: Any = None,
    threads: int | None = None,
    bgr: bool = False,
    memory_budget: int | None = None,
    blend: int | None = None,
    border: int | None = None,
    backend: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    options: UpscaleOptions | None = None,
) -> UpscaleResult:
    """Upscale ``image`` with ``model``; returns the image (same kind as given) and a report.

    The keyword arguments are the fields of :class:`~realesrgan_kit.core.options.UpscaleOptions`
    (documented there); pass them one by one or as ``options=`` (not both). ``progress(done,
    total)`` is called after every tile; ``cancel()`` is polled between tiles and True raises
    ``OperationCancelledError`` (nothing is returned). Steps: :func:`check_options` →
    :func:`plan_job` → :func:`run_job`.
    """
    given = UpscaleOptions(
        outscale=outscale,
        width=width,
        height=height,
        tile=tile,
        tile_pad=tile_pad,
        precision=precision,
        alpha=alpha,
        tta=tta,
        device=device,
        threads=threads,
        bgr=bgr,
        memory_budget=memory_budget,
        blend=blend,
        border=border,
        backend=backend,
    )
    if options is None:
        options = given
    elif given != UpscaleOptions():
        raise InvalidParameterError(
            "pass the upscale options either as options=UpscaleOptions(...) or as keyword arguments, not both"
        )
    job = plan_job(check_options(model, options), image)
    return run_job(job, progress=progress, cancel=cancel)


def upscale(
    model: Any,
    image: Any,
    *,
    outscale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    tile: Tile | None = TILE_AUTO,
    tile_pad: int | None = None,
    precision: str = "auto",
    alpha: str = "model",
    tta: bool = False,
    device: Any = None,
    threads: int | None = None,
    bgr: bool = False,
    memory_budget: int | None = None,
    blend: int | None = None,
    border: int | None = None,
    backend: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    options: UpscaleOptions | None = None,
) -> Any:
    """Upscale ``image`` with a loaded ``model`` and return it in the kind it came in.

    ``image``: numpy H×W(×C) uint8/uint16/float (C = 1, 3, 4; RGB unless ``bgr=True``), a PIL
    image, or a torch float [B, H, W, C] batch (returned as float32 [B, H', W', C] on the CPU).
    ``model``: a loaded ``ModelDescriptor`` or a spandrel-like descriptor. The options are
    those of :func:`run_upscale` (documented on ``UpscaleOptions``); this returns only the
    image, :func:`run_upscale` the image and its report.
    """
    return run_upscale(
        model,
        image,
        outscale=outscale,
        width=width,
        height=height,
        tile=tile,
        tile_pad=tile_pad,
        precision=precision,
        alpha=alpha,
        tta=tta,
        device=device,
        threads=threads,
        bgr=bgr,
        memory_budget=memory_budget,
        blend=blend,
        border=border,
        backend=backend,
        progress=progress,
        cancel=cancel,
        options=options,
    ).image
