"""Video jobs: plan once, run chunks (here or on other workers), assemble atomically.

``prepare_video_job`` resolves every option (output size, codec, pixel format, chunks) and the
job key that finished chunks are stamped with; ``upscale_chunk`` makes one chunk file;
``assemble_chunks`` writes the target from them. ``upscale_video`` does all three in one
process with the streaming pipeline. Finished chunks live in ``<target>.parts/`` beside the
target (see ``parts``): a resume reuses them, a resume with another source or other options
is refused, and they are removed once the target is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterError, OutputExistsError
from ..fileio import same_file
from ..options import DEFAULT_TEMPORAL, Temporal, UpscaleKeywords, UpscaleOptions
from .assemble import AssemblyResult, assemble_parts
from .chunks import (
    DEFAULT_CHUNK_SECONDS,
    Chunk,
    parse_frame_range,
    plan_chunks,
)
from .encode import VIDEO_SUFFIXES, EncoderSettings, choose_encoder_settings
from .frames import ColourModel, colour_model_for, scan_packets
from .parts import open_parts, parts_dir_for, pending_chunks
from .pipeline import ChunkRunCounts, VideoProgress, resolve_temporal, run_chunks
from .probe import VideoInfo, probe_video

if TYPE_CHECKING:  # typing.Unpack is 3.11+; only the type checker reads it (annotations are strings)
    from typing_extensions import Unpack

    from ..load.descriptor import ModelInput
    from ..load.modellike import UpscaleModelLike

__all__ = [
    "VideoJob",
    "VideoReport",
    "prepare_video_job",
    "upscale_chunk",
    "assemble_chunks",
    "upscale_video",
    "video_engine_options",
    "engine_options_for_video",
]

log = logging.getLogger(__name__)

_ALWAYS_KEYED = ("tile", "tile_pad", "precision", "backend", "tta", "alpha", "memory_budget", "device")
"""Options the job key names at any value (it named them before it was derived from
``UpscaleOptions``): keys of existing parts folders stay the same, so they still resume. Any
other option enters the key only when it differs from its default."""
_NOT_KEYED = ("outscale", "width", "height", "threads", "bgr")
"""Options that do not change a chunk's pixels beyond the key's other parts: the size is in the
encoder settings, ``threads`` only sets the speed, ``bgr`` is refused for videos."""


def video_engine_options(
    options: UpscaleOptions | None = None, keywords: Mapping[str, Any] | None = None
) -> UpscaleOptions:
    """The engine options of a video: ``options`` or ``keywords`` (not both), with ``alpha="drop"``
    by default (frames have no alpha to keep). ``bgr`` is refused: frames are decoded as RGB."""
    given = dict(keywords or {})
    if options is None:
        given.setdefault("alpha", "drop")
    chosen = UpscaleOptions.merge(options, given)
    if chosen.bgr:
        raise InvalidParameterError(
            "bgr=True applies to numpy images; video frames are decoded as RGB: leave it out"
        )
    return chosen


def engine_options_for_video(options: UpscaleOptions) -> UpscaleOptions:
    """An image run's options as a video of the same run takes them (jobs mix images and
    videos): no alpha channel to keep, frames in RGB."""
    return options.replace(alpha="drop", bgr=False)


def _engine_identity(options: UpscaleOptions) -> dict[str, str | None]:
    defaults = type(options)()  # the options' own definition: a subclass's new fields count too
    keyed: dict[str, str | None] = {}
    for name in (f.name for f in fields(options)):
        value = getattr(options, name)
        if name in _NOT_KEYED or (name not in _ALWAYS_KEYED and value == getattr(defaults, name)):
            continue
        keyed[name] = None if value is None else str(value)
    return keyed


@dataclass(frozen=True)
class VideoJob:
    """A fully resolved video job; picklable, so chunks can run on other workers."""

    src: Path
    dst: Path
    parts: Path
    info: VideoInfo
    chunks: tuple[Chunk, ...]
    frame_range: tuple[int, int]
    frames_total: int
    settings: EncoderSettings
    colour: ColourModel
    options: UpscaleOptions
    """The engine options of every frame: the output size as ``width``/``height`` (from the
    encoder settings), no ``threads`` (the chunk loop sets them once)."""
    key: str
    identity: dict[str, Any]
    requested_size: tuple[int, int] | None = None
    temporal: Any = None
    """The stabiliser's settings (``core.video.temporal.TemporalSettings``); None: frame-wise."""

    @property
    def trimmed(self) -> bool:
        return self.frame_range != (0, self.frames_total)

    @property
    def frame_step(self) -> int:
        """One frame's duration in the source's time base (for frames without timestamps)."""
        if not self.info.fps:
            return 1
        return max(1, round(1 / (self.info.fps * self.info.time_base)))

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the written video."""
        return self.settings.width, self.settings.height


@dataclass(frozen=True)
class VideoReport:
    """What ``upscale_video`` did."""

    src: Path
    dst: Path
    frames: int
    frames_upscaled: int
    chunks: int
    chunks_reused: int
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    requested_size: tuple[int, int] | None
    codec: str
    pix_fmt: str
    crf: int | None
    preset: str | None
    seconds: float
    fps: float
    copied_streams: tuple[str, ...] = ()
    dropped_streams: tuple[str, ...] = ()
    chapters: int = 0
    rotation: int = 0
    engine: dict[str, Any] = field(default_factory=dict)
    temporal: dict[str, Any] | None = None
    """The stabiliser's settings as a dict (strength, window, ...); None: frame-wise output."""
    warmup_frames: int = 0
    """Frames run through the model and the stabiliser only to warm it (not written): the
    temporal warm-up of every chunk that started a decoding pass (after a resume, say)."""
    frames_decoded_extra: int = 0
    """Frames decoded and not written: from the keyframe before each pass's first chunk to its
    start (the warm-up included). 0 for one uninterrupted pass from the start."""


def model_fingerprint(model: UpscaleModelLike) -> str:
    """SHA-256 over the architecture, scale and every weight of a loaded model."""
    from ..engine.modelinfo import model_facts

    facts = model_facts(model)
    digest = hashlib.sha256()
    digest.update(f"{facts.architecture}|{facts.scale}|{facts.default_outscale}".encode())
    for name, tensor in facts.module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            digest.update(t.reshape(-1).view(__import__("torch").uint8).numpy().tobytes())
    return digest.hexdigest()


def _load(model: ModelInput, denoise_strength: float | None) -> UpscaleModelLike:
    if isinstance(model, (str, os.PathLike)):
        from ..load import load_model

        return load_model(model, denoise_strength=denoise_strength)
    if denoise_strength is not None:
        raise InvalidParameterError(
            "denoise_strength applies when the model is given by name (it blends the model with its "
            "weak-denoise twin at load time); pass load_model(name, denoise_strength=...) or the name"
        )
    return model


def _check_target(source: Path, target: Path) -> None:
    """Refuse writing over the input, and a suffix that names no video container."""
    if same_file(source, target) or source.resolve() == target.resolve():
        raise OutputExistsError(f"output {target} is the input {source}: refusing to overwrite an input")
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        raise InvalidParameterError(
            f"cannot write a video to {target.name!r}: the suffix picks the container; use one of "
            f"{', '.join(VIDEO_SUFFIXES)}"
        )


def _plan_frames(
    source: Path,
    frames: Any,
    temporal: Temporal | str | None,
    chunk_seconds: float,
    chunk_frames: int | None,
) -> tuple[int, tuple[int, int], Any, list[Chunk]]:
    """The clip's frame count, the checked frame range, the stabiliser and the chunks to run."""
    scan = scan_packets(source)
    total = len(scan.pts) if scan.pts else scan.frame_count
    frame_range = parse_frame_range(frames, total)
    stabiliser = resolve_temporal(temporal)
    chunks = plan_chunks(
        scan,
        frames=frame_range,
        chunk_seconds=chunk_seconds,
        chunk_frames=chunk_frames,
        warmup_frames=0 if stabiliser is None else int(stabiliser.window),
    )
    return total, frame_range, stabiliser, chunks


def _encoder_settings(
    model: UpscaleModelLike,
    info: VideoInfo,
    target: Path,
    *,
    outscale: float | None,
    width: int | None,
    height: int | None,
    codec: str | None,
    crf: int | None,
    preset: str | None,
    pix_fmt: str | None,
    encoder_options: dict[str, str] | None,
) -> tuple[ColourModel, EncoderSettings, tuple[int, int] | None]:
    """The output size (from the model's scale and the asked size), colour model and encoder."""
    from ..engine.modelinfo import model_facts
    from ..engine.output_resize import upscaled_size

    facts = model_facts(model)
    out_h, out_w = upscaled_size(
        info.height,
        info.width,
        facts.default_outscale or facts.scale,
        outscale=outscale,
        target_width=width,
        target_height=height,
    )
    colour = colour_model_for(info.colour_codes[2], info.colour_codes[3], info.pix_fmt, info.height)
    settings, asked = choose_encoder_settings(
        target.suffix,
        width=out_w,
        height=out_h,
        time_base=info.time_base,
        frame_rate=info.fps,
        source_pix_fmt=info.pix_fmt,
        source_depth=info.bit_depth,
        colour=colour,
        source_colour=info.colour_codes,
        codec=codec,
        crf=crf,
        preset=preset,
        pix_fmt=pix_fmt,
        options=encoder_options,
        sample_aspect_ratio=info.sample_aspect_ratio,
    )
    return colour, settings, asked


def _job_identity(
    source: Path,
    model: UpscaleModelLike,
    options: UpscaleOptions,
    settings: EncoderSettings,
    frame_range: tuple[int, int],
    chunks: Sequence[Chunk],
    stabiliser: Any,
) -> tuple[dict[str, Any], str]:
    """Everything a finished chunk depends on, and its hash: the key a resume must match."""
    stat = source.stat()
    identity = {
        "source": {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns},
        "model": model_fingerprint(model),
        "engine": _engine_identity(options),
        "encoder": settings.as_dict(),
        "frames": list(frame_range),
        "chunks": [[c.start_frame, c.stop_frame] for c in chunks],
    }
    if stabiliser is not None:  # frame-wise jobs keep the key they had before the option
        identity["temporal"] = _temporal_dict(stabiliser)
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return identity, key


def prepare_video_job(
    model: UpscaleModelLike,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    encoder_options: dict[str, str] | None = None,
    frames: Any = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    chunk_frames: int | None = None,
    temporal: Temporal | str | None = DEFAULT_TEMPORAL,
    options: UpscaleOptions | None = None,
    **keywords: Unpack[UpscaleKeywords],
) -> VideoJob:
    """Resolve a job: probe ``src``, choose output size and encoder, plan chunks, make the key.

    ``model`` must be loaded here (see :func:`upscale_video` for names). The engine options
    (``UpscaleOptions``, as ``options=`` or keywords) and ``temporal`` (see
    :func:`upscale_video`) are part of the key: a resume with other settings is refused.
    Nothing is written.
    """
    engine = video_engine_options(options, keywords)
    source, target = Path(src), Path(dst)
    _check_target(source, target)
    info = probe_video(source)
    total, frame_range, stabiliser, chunks = _plan_frames(
        source, frames, temporal, chunk_seconds, chunk_frames
    )
    colour, settings, asked = _encoder_settings(
        model,
        info,
        target,
        outscale=engine.outscale,
        width=engine.width,
        height=engine.height,
        codec=codec,
        crf=crf,
        preset=preset,
        pix_fmt=pix_fmt,
        encoder_options=encoder_options,
    )
    frame_options = engine.replace(outscale=None, width=settings.width, height=settings.height, threads=None)
    identity, key = _job_identity(source, model, frame_options, settings, frame_range, chunks, stabiliser)
    return VideoJob(
        src=source,
        dst=target,
        parts=parts_dir_for(target),
        info=info,
        chunks=tuple(chunks),
        frame_range=frame_range,
        frames_total=total,
        settings=settings,
        colour=colour,
        options=frame_options,
        key=key,
        identity=identity,
        requested_size=asked,
        temporal=stabiliser,
    )


def _temporal_dict(settings: Any) -> dict[str, Any]:
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in asdict(settings).items()}


def _frame_upscaler(
    model: UpscaleModelLike, job: VideoJob, cancel: Callable[[], bool] | None
) -> Callable[[Any], Any]:
    from ..engine import prepare_frame_upscaler

    state: dict[str, Any] = {}

    def run(image: Any) -> Any:
        upscaler = state.get("upscaler")
        if upscaler is None:
            upscaler = prepare_frame_upscaler(
                model,
                image.shape[0],
                image.shape[1],
                channels=image.shape[2],
                dtype=image.dtype,
                cancel=cancel,
                options=job.options,
            )
            state["upscaler"] = upscaler
        return upscaler(image)

    run.state = state  # type: ignore[attr-defined]
    return run


def upscale_chunk(
    model: UpscaleModelLike,
    job: VideoJob,
    chunks: Chunk | Sequence[Chunk],
    *,
    progress: Callable[[VideoProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[Path]:
    """Make the chunk file(s) of ``chunks`` in ``job.parts`` (for workers of a distributed run).

    ``job.parts`` must exist (``upscale_video`` or :func:`open_parts` creates it); finished
    chunk files are written atomically, so workers never see a partial one.
    """
    todo = [chunks] if isinstance(chunks, Chunk) else list(chunks)
    job.parts.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    run_chunks(
        job.src,
        todo,
        parts=job.parts,
        key=job.key,
        settings=job.settings,
        colour=job.colour,
        upscale_frame=_frame_upscaler(model, job, cancel),
        temporal=job.temporal,
        frame_step=job.frame_step,
        on_chunk=lambda _c, path: made.append(path),
        progress=progress,
        cancel=cancel,
        frames_total=sum(c.frames for c in todo),
        chunks_total=len(todo),
    )
    return made


def _assemble(job: VideoJob, *, force: bool, keep_parts: bool) -> AssemblyResult:
    result = assemble_parts(
        src=job.src,
        dst=job.dst,
        parts=job.parts,
        chunks=job.chunks,
        key=job.key,
        info=job.info,
        settings=job.settings,
        trimmed=job.trimmed,
        overwrite=force,
    )
    if not keep_parts:
        shutil.rmtree(job.parts, ignore_errors=True)
    return result


def assemble_chunks(job: VideoJob, *, force: bool = False, keep_parts: bool = False) -> Path:
    """Write ``job.dst`` from the finished chunks (all must exist) and the source's other streams.

    The parts folder is removed afterwards unless ``keep_parts``.
    """
    return _assemble(job, force=force, keep_parts=keep_parts).path


def upscale_video(
    model: ModelInput,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    denoise_strength: float | None = None,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    encoder_options: dict[str, str] | None = None,
    frames: Any = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    chunk_frames: int | None = None,
    temporal: Temporal | str | None = DEFAULT_TEMPORAL,
    resume: bool = False,
    force: bool = False,
    keep_parts: bool = False,
    progress: Callable[[VideoProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    options: UpscaleOptions | None = None,
    **keywords: Unpack[UpscaleKeywords],
) -> VideoReport:
    """Upscale the video ``src`` into ``dst`` (a new file; its suffix picks the container).

    ``model``: a loaded model or a model name/path (then ``denoise_strength`` applies). Size: ``outscale``
    or ``width``/``height`` (default: the model's scale), rounded down to what ``pix_fmt`` can hold (the
    report says so). Engine options: ``UpscaleOptions``' fields as keywords or ``options=``, as for
    :func:`run_upscale` (``alpha`` defaults to ``"drop"``; ``threads`` holds for the whole run). Encoder: ``codec`` (default: the best the
    container and PyAV allow, libx264 for mp4/mkv), ``crf``, ``preset``, ``pix_fmt`` (default: the
    source's, 10-bit kept where the codec can). ``frames``: ``"A:B"`` or ``(A, B)`` to write frames
    A ≤ i < B only. ``temporal``: ``"auto"``, ``"off"`` or a strength in [0, 1] (default
    ``core.options.DEFAULT_TEMPORAL``): flicker reduction, each frame stabilised against the frames before
    it (``core.video.temporal``); chunks warm it on the frames before their start, so chunked, resumed and
    distributed runs write the same frames as one pass. ``chunk_seconds``: longest chunk (the unit of
    resume), cut whatever the keyframes. ``resume``: continue from the chunks an interrupted run left in
    ``<dst>.parts/``; ``force``: replace ``dst`` and discard earlier chunks. ``progress(VideoProgress)``
    after every frame; ``cancel()`` polled between tiles and frames (finished chunks stay for a resume).
    """
    started = time.perf_counter()
    loaded, target = _load(model, denoise_strength), Path(dst)
    if target.exists() and not force:
        raise OutputExistsError(f"{target} exists; pass --force (force=True) to replace it")
    engine = video_engine_options(options, keywords)
    job = prepare_video_job(
        loaded,
        src,
        target,
        options=engine,
        codec=codec,
        crf=crf,
        preset=preset,
        pix_fmt=pix_fmt,
        encoder_options=encoder_options,
        frames=frames,
        chunk_seconds=chunk_seconds,
        chunk_frames=chunk_frames,
        temporal=temporal,
    )
    counts, reused, upscale_frame = _run_pending_chunks(
        loaded, job, resume=resume, force=force, threads=engine.threads, progress=progress, cancel=cancel
    )
    result = _assemble(job, force=force, keep_parts=keep_parts)
    return _video_report(job, counts, result, time.perf_counter() - started, reused, upscale_frame)


def _run_pending_chunks(
    loaded: UpscaleModelLike,
    job: VideoJob,
    *,
    resume: bool,
    force: bool,
    threads: int | None,
    progress: Callable[[VideoProgress], None] | None,
    cancel: Callable[[], bool] | None,
) -> tuple[ChunkRunCounts, int, Callable[[Any], Any]]:
    """Run the chunks not finished yet; returns the counts, the chunks reused and the frame upscaler."""
    from ..engine.threads import torch_threads

    open_parts(job, resume=resume, force=force)
    todo = pending_chunks(job)
    reused = len(job.chunks) - len(todo)
    frames_in_range = job.frame_range[1] - job.frame_range[0]
    already = frames_in_range - sum(c.frames for c in todo)
    if reused:
        log.info("resuming %s: %d of %d chunks are finished", job.dst, reused, len(job.chunks))
    upscale_frame = _frame_upscaler(loaded, job, cancel)
    # the one mechanism that sets torch's thread count (the count is process-wide: see threads.py)
    with torch_threads(threads):
        counts = run_chunks(
            job.src,
            todo,
            parts=job.parts,
            key=job.key,
            settings=job.settings,
            colour=job.colour,
            upscale_frame=upscale_frame,
            temporal=job.temporal,
            frame_step=job.frame_step,
            progress=progress,
            cancel=cancel,
            frames_done=already,
            frames_total=frames_in_range,
            chunks_done=reused,
            chunks_total=len(job.chunks),
        )
    return counts, reused, upscale_frame


def _video_report(
    job: VideoJob,
    counts: ChunkRunCounts,
    result: AssemblyResult,
    seconds: float,
    reused: int,
    upscale_frame: Callable[[Any], Any],
) -> VideoReport:
    """What the run did: frames, chunks, sizes, encoder, the engine's choices and the timing."""
    frames_in_range = job.frame_range[1] - job.frame_range[0]
    upscaled = counts.frames_upscaled
    upscaler = upscale_frame.state.get("upscaler")  # type: ignore[attr-defined]
    engine = {}
    if upscaler is not None:
        rep = upscaler.report()
        engine = {
            "tile": rep.tile,
            "tiles_per_frame": rep.tiles // max(1, rep.images),
            "precision": rep.precision,
            "backend": rep.backend,
            "device": rep.device,
        }
    return VideoReport(
        src=job.src,
        dst=job.dst,
        frames=frames_in_range,
        frames_upscaled=upscaled,
        chunks=len(job.chunks),
        chunks_reused=reused,
        input_size=(job.info.width, job.info.height),
        output_size=job.output_size,
        requested_size=job.requested_size,
        codec=job.settings.codec,
        pix_fmt=job.settings.pix_fmt,
        crf=job.settings.crf,
        preset=job.settings.preset,
        seconds=seconds,
        fps=upscaled / seconds if seconds > 0 else 0.0,
        copied_streams=result.copied_streams,
        dropped_streams=result.dropped_streams,
        chapters=result.chapters,
        rotation=job.info.rotation,
        engine=engine,
        temporal=None if job.temporal is None else _temporal_dict(job.temporal),
        warmup_frames=counts.warmup_frames,
        frames_decoded_extra=counts.frames_decoded_extra,
    )
