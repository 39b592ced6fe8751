"""Upscale jobs: one unit per image or video, a worker that loads the model once.

``plan_upscale_job`` turns inputs (files, folders, paths or URIs) and an output (a file for one
input, else a folder) into a :class:`Job`; the same job runs on the local executor (the CLI's
folder loop) or on Ray. An image unit reads its image, runs the engine and writes its output
atomically; the checks and messages are those of the single-file command. A video is one unit
(the streaming pipeline, as ``upscale_video`` runs it) unless :func:`split_videos` turns it
into chunk units that any worker runs, plus an assembly the driver runs once they are all
done: the same packets, frames and timestamps as the single-process output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError, OutputExistsError, RealESRGANKitError
from ..imagefile import DEFAULT_MAX_PIXELS, READABLE_SUFFIXES, WRITABLE_SUFFIXES, sniff_format
from ..options import UpscaleKeywords, UpscaleOptions
from . import storage
from .units import DEFAULT_MAX_RETRIES, Assembly, Job, Unit, WorkerResources

if TYPE_CHECKING:  # typing.Unpack is 3.11+; only the type checker reads it (annotations are strings)
    from typing_extensions import Unpack

    from ..load.modellike import UpscaleModelLike

__all__ = [
    "collect_media_inputs",
    "upscale_targets",
    "split_videos",
    "VIDEO_INPUT_SUFFIXES",
    "fit_format",
    "plan_upscale_job",
    "UpscaleWorker",
    "REQUEST_TILE",
    "engine_summary",
    "temporal_summary",
]

log = logging.getLogger(__name__)

_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp", ".avif")
_NO_ALPHA = (".jpg", ".jpeg", ".bmp")
# Suffixes that announce a video; a named file with one that is no readable video gets the
# video reader's error rather than the image reader's.
VIDEO_INPUT_SUFFIXES = (
    ".mp4",
    ".m4v",
    ".mkv",
    ".mov",
    ".webm",
    ".avi",
    ".ts",
    ".mts",
    ".m2ts",
    ".nut",
    ".flv",
    ".wmv",
    ".mpg",
    ".mpeg",
    ".3gp",
)
_VIDEO_OPTIONS = ("codec", "crf", "preset", "pix_fmt", "frames", "chunk_seconds", "temporal")
"""``upscale_video``'s options that only videos take (``video_options``); they travel in the
worker recipe and, for chunk units, in the pickled ``VideoJob``, so every worker gets them."""
REQUEST_TILE = 512
"""With ``tile="auto"`` on Ray, a worker reserves the memory of a window of this core size and
its auto tiles stay within that reservation (small images still run as one window)."""


def _is_video(location: str) -> bool:
    if storage.is_uri(location):
        return False  # videos are read by FFmpeg from a path (a shared filesystem on a cluster)
    if _is_still_image(location):
        return False  # FFmpeg also opens HEIC, AVIF... as one-frame "videos"
    from ..video import is_video_file

    return is_video_file(location)


def _is_still_image(path: str) -> bool:
    """An image by extension and magic bytes."""
    if Path(path).suffix.lower() not in READABLE_SUFFIXES:
        return False
    with open(path, "rb") as fh:
        return sniff_format(fh.read(32)) is not None


def collect_media_inputs(inputs: Iterable[str | Path]) -> tuple[list[tuple[str, bool]], bool]:
    """Input files (paths or URIs) with whether each is a video (by content), and whether the
    run is a batch (a folder or several inputs). Folders: their images (by extension) and
    videos (by content), not recursive."""
    files: list[tuple[str, bool]] = []
    batch = False
    names = [str(n) for n in inputs]
    for name in names:
        if storage.is_dir(name):
            batch = True
            if storage.is_uri(name):
                found = [(f, False) for f in storage.list_files(name, READABLE_SUFFIXES)]
            else:
                found = []
                for path in sorted(p for p in Path(name).iterdir() if p.is_file()):
                    if _is_video(str(path)):
                        found.append((str(path), True))
                    elif path.suffix.lower() in READABLE_SUFFIXES:
                        found.append((str(path), False))
            if not found:
                log.warning("no images (%s) or videos in %s", ", ".join(WRITABLE_SUFFIXES), name)
            files.extend(found)
        elif storage.exists(name):
            video = _is_video(name) or (
                not storage.is_uri(name) and storage.suffix_of(name) in VIDEO_INPUT_SUFFIXES
            )
            files.append((name, video))
        else:
            raise FileNotFoundError(f"input {name} does not exist")
    return files, batch or len(names) > 1


def _output_location(source: str, output: str, batch: bool, ext: str | None) -> str:
    if not batch and storage.suffix_of(output) in WRITABLE_SUFFIXES and not storage.is_dir(output):
        return output
    wanted = f".{ext.lstrip('.').lower()}" if ext else None
    own = storage.suffix_of(source)
    own = own if own in WRITABLE_SUFFIXES else ".png"  # e.g. HEIC in, PNG out
    suffix = wanted if wanted in WRITABLE_SUFFIXES else own  # a video --ext is for videos
    return storage.join(output, f"{storage.stem_of(source)}{suffix}")


def _video_output_location(source: str, output: str, batch: bool, ext: str | None) -> str:
    from ..video import VIDEO_SUFFIXES

    if not batch and not storage.is_dir(output):
        return output
    wanted = f".{ext.lstrip('.').lower()}" if ext else None
    if wanted in VIDEO_SUFFIXES:
        suffix = wanted
    elif storage.suffix_of(source) in VIDEO_SUFFIXES:
        suffix = storage.suffix_of(source)
    else:
        suffix = ".mp4"
    return storage.join(output, f"{storage.stem_of(source)}{suffix}")


def _same_location(a: str, b: str) -> bool:
    if storage.is_uri(a) or storage.is_uri(b):
        return a.rstrip("/") == b.rstrip("/")
    from ..fileio import same_file

    return same_file(a, b) or Path(a).resolve() == Path(b).resolve()


def upscale_targets(
    files: list[tuple[str, bool]], output: str, batch: bool, ext: str | None
) -> list[tuple[str, str, bool]]:
    """(source, target, is video) for every input; refuses a file output for a batch and an
    input as target."""
    suffixes = WRITABLE_SUFFIXES
    if any(video for _, video in files):
        from ..video import VIDEO_SUFFIXES

        suffixes = WRITABLE_SUFFIXES + VIDEO_SUFFIXES
    if batch and storage.suffix_of(output) in suffixes and not storage.is_dir(output):
        raise InvalidParameterError(f"several inputs need an output folder, not the file name {output}")
    targets = [
        (
            source,
            (_video_output_location if video else _output_location)(source, output, batch, ext),
            video,
        )
        for source, video in files
    ]
    for source, target, _ in targets:
        if _same_location(source, target):
            raise OutputExistsError(f"output {target} is the input {source}: refusing to overwrite an input")
    return targets


def fit_format(image: np.ndarray, suffix: str, name: str) -> np.ndarray:
    """Adapt a result to a format the user chose that cannot hold all of it (with a warning)."""
    if suffix in _EIGHT_BIT_ONLY and image.dtype != np.uint8:
        log.warning(
            "%s holds 8 bits only: writing %s as 8-bit (use .png or .tif to keep 16 bits)", suffix, name
        )
        peak = 1.0 if np.issubdtype(image.dtype, np.floating) else float(np.iinfo(image.dtype).max)
        image = np.rint(np.clip(image.astype(np.float32) * (255.0 / peak), 0, 255)).astype(np.uint8)
    if suffix in _NO_ALPHA and image.ndim == 3 and image.shape[2] == 4:
        log.warning(
            "%s has no alpha channel: dropping it for %s (use .png, .webp or .tif to keep it)", suffix, name
        )
        image = np.ascontiguousarray(image[:, :, :3])
    return image


@dataclass(frozen=True)
class UpscaleWorker:
    """The recipe of an upscale worker: the model (``model``, already loaded, and/or
    ``model_source``, a zoo name or path that a worker loads itself), the engine options, and
    what a worker reserves (``memory``: the engine's estimate; ``gpus=None``: one GPU per
    worker where the cluster has GPUs, else none)."""

    model: UpscaleModelLike | None = None
    model_source: str | None = None
    options: UpscaleOptions = field(default_factory=UpscaleOptions)
    """The engine options of every unit: images run them as they are, videos as
    ``engine_options_for_video`` makes them (a frozen dataclass: it pickles to Ray's workers whole)."""
    overwrite: bool = False
    load_options: Mapping[str, Any] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float | None = 0.0
    memory: int | None = None
    budget_tiles: bool = False
    """Run auto tiles inside ``memory`` (set for clusters, where ``memory`` is reserved)."""
    video_options: Mapping[str, Any] = field(default_factory=dict)
    """codec, crf, preset, pix_fmt, frames, chunk_seconds, temporal: for video inputs."""
    resume: bool = False
    """A video unit continues from the chunks an interrupted run left."""
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    """Images with more pixels (told by their header) are refused before decoding."""
    keep_metadata: bool = True
    """Write the input's ICC profile, EXIF, XMP, DPI and PNG text where the output format holds them."""

    def resources(self) -> WorkerResources:
        return WorkerResources(cpus=self.cpus, gpus=self.gpus, memory=self.memory)

    def with_model(self, model: UpscaleModelLike) -> UpscaleWorker:
        """This recipe with a loaded model, and the memory the engine estimates for it."""
        return replace(self, model=model, memory=request_memory(model, self.options))

    def for_cluster(self) -> UpscaleWorker:
        """The variant a cluster runs: workers load the model by name where there is one (a
        short message instead of the weights), and auto tiles stay within the reservation."""
        model = None if self.model_source is not None else self.model
        return replace(self, model=model, budget_tiles=True)

    def start(self) -> _UpscaleRunner:
        from ..engine import run_upscale
        from ..load import load_model

        model = self.model
        if model is None:
            if self.model_source is None:
                raise InvalidParameterError("an upscale worker needs a model or a model name/path")
            model = load_model(self.model_source, device=None, **dict(self.load_options))
        options = self.options
        if self.budget_tiles and self.memory and options.tile == "auto" and options.memory_budget is None:
            options = options.replace(memory_budget=self.memory)
        return _UpscaleRunner(
            run_upscale,
            model,
            options,
            self.overwrite,
            dict(self.video_options),
            self.resume,
            self.max_pixels,
            self.keep_metadata,
        )


@dataclass
class _UpscaleRunner:
    run: Callable[..., Any]
    model: UpscaleModelLike
    options: UpscaleOptions
    overwrite: bool
    video_options: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    keep_metadata: bool = True

    def __call__(self, unit: Unit, progress: Callable[..., None] | None = None, attempt: int = 1) -> str:
        if unit.kind == "video":
            return self._video(unit, progress)
        if unit.kind == "video_chunk":
            from ..video import upscale_chunk

            video_job, chunk = unit.payload
            (made,) = upscale_chunk(self.model, video_job, chunk)
            return str(made)
        source, target = unit.sources[0], unit.outputs[0]
        suffix = storage.suffix_of(target)
        if suffix not in WRITABLE_SUFFIXES:
            raise InvalidParameterError(
                f"unknown output format {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}"
            )
        if not self.overwrite and storage.exists(target):
            raise OutputExistsError(f"{target} exists; pass --force to replace it")
        loaded = storage.read_image_file_at(source, max_pixels=self.max_pixels)  # upright, metadata
        result = self.run(self.model, loaded.pixels, progress=progress, options=self.options)
        storage.write_image_at(
            target,
            fit_format(result.image, suffix, storage.name_of(target)),
            overwrite=self.overwrite,
            metadata=loaded.metadata if self.keep_metadata else None,
        )
        report = result.report
        log.info(
            "%s → %s: %dx%d → %dx%d, %d tiles of %d px, %s %s on %s, %.1fs",
            source,
            target,
            report.input_size[1],
            report.input_size[0],
            report.output_size[1],
            report.output_size[0],
            report.tiles,
            report.tile,
            report.backend,
            report.precision,
            report.device,
            report.seconds,
        )
        return target

    def _video(self, unit: Unit, progress: Callable[..., None] | None) -> str:
        from ..video import DEFAULT_CHUNK_SECONDS, engine_options_for_video, upscale_video

        source, target = unit.sources[0], unit.outputs[0]
        video = {k: v for k, v in self.video_options.items() if v is not None}
        video.setdefault("chunk_seconds", DEFAULT_CHUNK_SECONDS)
        report = upscale_video(
            self.model,
            source,
            target,
            options=engine_options_for_video(self.options),
            **video,
            resume=self.resume,
            force=self.overwrite,
            progress=progress,
        )
        if report.requested_size is not None:
            log.warning(
                "%s is %d×%d (rounded from %d×%d for %s)",
                storage.name_of(target),
                *report.output_size,
                *report.requested_size,
                report.pix_fmt,
            )
        log.info(
            "%s → %s: %d frames %d×%d → %d×%d, %s %s, %d chunks (%d reused), %.1f s, %.2f fps, %s; %s; copied: %s",
            source,
            target,
            report.frames,
            *report.input_size,
            *report.output_size,
            report.codec,
            report.pix_fmt,
            report.chunks,
            report.chunks_reused,
            report.seconds,
            report.fps,
            engine_summary(report),
            temporal_summary(report),
            ", ".join(report.copied_streams) or "no other streams",
        )
        return target


def engine_summary(report: Any) -> str:
    """The backend and precision a ``VideoReport``'s frames ran in, and on which device."""
    engine = report.engine
    if not engine:
        return "no frame upscaled"
    return f"{engine['backend']} {engine['precision']} on {engine['device']}"


def temporal_summary(report: Any) -> str:
    """The temporal setting of a ``VideoReport`` and the decoding it cost beyond the frames written."""
    if report.temporal is None:
        setting = "temporal off"
    else:
        setting = f"temporal strength {report.temporal['strength']:g}, window {report.temporal['window']}"
    return (
        f"{setting}; extra decode: {report.frames_decoded_extra} frames decoded and not written "
        f"({report.warmup_frames} of them upscaled as warm-up)"
    )


def request_memory(model: UpscaleModelLike, options: UpscaleOptions) -> int | None:
    """Bytes a worker reserves: the engine's estimate for its largest window (None for
    whole-image runs, whose size depends on the image)."""
    from ..engine import estimate_tile_memory

    tile = options.tile
    if tile in (None, 0, "whole"):
        return None
    return estimate_tile_memory(
        model,
        REQUEST_TILE if tile == "auto" else int(tile),
        tile_pad=options.tile_pad,
        precision=options.precision,
        device=options.device,
        tta=bool(options.tta),
    )


def plan_upscale_job(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    model: UpscaleModelLike | None = None,
    model_source: str | None = None,
    ext: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    max_retries: int = DEFAULT_MAX_RETRIES,
    load_options: Mapping[str, Any] | None = None,
    video_options: Mapping[str, Any] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    keep_metadata: bool = True,
    options: UpscaleOptions | None = None,
    **keywords: Unpack[UpscaleKeywords],
) -> tuple[Job, bool]:
    """A job upscaling ``inputs`` (files, folders; paths or URIs) into ``output``; returns it
    and whether it is a batch (a folder or several inputs: a file output is refused).

    ``model``: a loaded model (it also gives the memory estimate); ``model_source``: its zoo
    name or path, so that cluster workers load it themselves. The engine options are
    :func:`run_upscale`'s (``UpscaleOptions``, as ``options=`` or keywords); ``video_options`` those of ``upscale_video`` for video inputs (codec,
    crf, preset, pix_fmt, frames, chunk_seconds, temporal). ``max_pixels``: images larger than this (by
    their header) are refused before decoding; ``keep_metadata``: write ICC/EXIF/XMP/DPI/PNG
    text back where the output format holds them. Units are keyed by their input; a video is
    one unit until :func:`split_videos`."""
    if model is None and model_source is None:
        raise InvalidParameterError(
            "plan_upscale_job needs model= (loaded) and/or model_source= (name or path)"
        )
    files, batch = collect_media_inputs(inputs)
    targets = upscale_targets(files, str(output), batch, ext)
    units = [
        Unit(source, "video" if video else "image", (source,), (target,)) for source, target, video in targets
    ]
    chosen = UpscaleOptions.merge(options, keywords)
    device = str(chosen.device or "")
    worker = UpscaleWorker(
        model_source=model_source,
        options=chosen,
        overwrite=overwrite,
        load_options=dict(load_options or {}),
        cpus=float(chosen.threads or 1),
        gpus=1.0 if device.startswith("cuda") else (0.0 if device else None),
        video_options=dict(video_options or {}),
        resume=resume,
        max_pixels=max_pixels,
        keep_metadata=keep_metadata,
    )
    if model is not None:
        worker = worker.with_model(model)
    return Job(units, worker, resume=resume, max_retries=max_retries), batch


def split_videos(job: Job, model: UpscaleModelLike) -> Job:
    """The same job with every video unit split into chunk units (any worker may run them) and
    an assembly of the clip on the driver once they are all done. ``model`` (loaded) fixes the
    output size and the key that stamps the chunks; chunk files live in ``<target>.parts/``,
    which every worker must reach (a shared filesystem). A video that cannot be planned (not a
    video, an existing target without overwrite, chunks of another job) is rejected, not fatal."""
    from ..video import (
        DEFAULT_CHUNK_SECONDS,
        assemble_chunks,
        engine_options_for_video,
        open_parts,
        pending_chunks,
        prepare_video_job,
    )
    from ..video.chunks import chunk_path

    worker = job.worker
    if not isinstance(worker, UpscaleWorker):
        raise InvalidParameterError("split_videos needs an upscale job (plan_upscale_job)")
    engine = engine_options_for_video(worker.options)
    if worker.memory and engine.tile == "auto":
        engine = engine.replace(memory_budget=worker.memory)  # as the cluster's workers run auto tiles
    video = {k: v for k, v in worker.video_options.items() if v is not None}
    video.setdefault("chunk_seconds", DEFAULT_CHUNK_SECONDS)
    units: list[Unit] = []
    rejected = list(job.rejected)
    assemblies = list(job.assemblies)
    for unit in job.units:
        if unit.kind != "video" or (job.resume and unit.finished()):
            units.append(unit)  # a finished clip stays one unit, skipped by the resume rule
            continue
        source, target = unit.sources[0], unit.outputs[0]
        try:
            if storage.exists(target) and not worker.overwrite:
                raise OutputExistsError(f"{target} exists; pass --force (force=True) to replace it")
            video_job = prepare_video_job(model, source, target, options=engine, **video)
            open_parts(video_job, resume=job.resume, force=worker.overwrite)
            pending_chunks(video_job)  # removes chunk files of other jobs; ours are kept
        except (RealESRGANKitError, OSError) as exc:
            rejected.append((unit, exc))
            continue
        count = len(video_job.chunks)
        chunks = [
            Unit(
                f"{source} [chunk {chunk.index + 1}/{count}]",
                "video_chunk",
                (source,),
                (str(chunk_path(video_job.parts, chunk.index)),),
                payload=(video_job, chunk),
            )
            for chunk in video_job.chunks
        ]
        units.extend(chunks)

        def assemble(video_job: Any = video_job) -> str:
            return str(assemble_chunks(video_job, force=worker.overwrite))

        assemblies.append(Assembly(unit, tuple(c.key for c in chunks), assemble))
    # with resume, the chunk files a killed run finished are skipped like any finished unit
    return Job(
        units,
        worker,
        resume=job.resume,
        max_retries=job.max_retries,
        rejected=rejected,
        assemblies=assemblies,
    )
