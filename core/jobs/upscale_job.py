"""Upscale jobs: one unit per image file, a worker that loads the model once.

``plan_upscale_job`` turns inputs (files, folders, paths or URIs) and an output (a file for one
input, else a folder) into a :class:`Job`; the same job runs on the local executor (the CLI's
folder loop) or on Ray. A unit reads its image, runs the engine and writes its output
atomically; the checks and messages are those of the single-file command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError, OutputExistsError
from ..imageio import WRITABLE_SUFFIXES
from . import storage
from .units import DEFAULT_MAX_RETRIES, Job, Unit, WorkerResources

__all__ = [
    "collect_image_inputs",
    "upscale_targets",
    "fit_format",
    "plan_upscale_job",
    "UpscaleWorker",
    "REQUEST_TILE",
]

log = logging.getLogger(__name__)

_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
_NO_ALPHA = (".jpg", ".jpeg", ".bmp")
REQUEST_TILE = 512
"""With ``tile="auto"`` on Ray, a worker reserves the memory of a window of this core size and
its auto tiles stay within that reservation (small images still run as one window)."""


def collect_image_inputs(inputs: Iterable[str | Path]) -> tuple[list[str], bool]:
    """Input files (paths or URIs), and whether the run is a batch (a folder or several inputs)."""
    files: list[str] = []
    batch = False
    names = [str(n) for n in inputs]
    for name in names:
        if storage.is_dir(name):
            batch = True
            found = storage.list_files(name, WRITABLE_SUFFIXES)
            if not found:
                log.warning("no images (%s) in %s", ", ".join(WRITABLE_SUFFIXES), name)
            files.extend(found)
        elif storage.exists(name):
            files.append(name)
        else:
            raise FileNotFoundError(f"input {name} does not exist")
    return files, batch or len(names) > 1


def _output_location(source: str, output: str, batch: bool, ext: str | None) -> str:
    if not batch and storage.suffix_of(output) in WRITABLE_SUFFIXES and not storage.is_dir(output):
        return output
    suffix = f".{ext.lstrip('.').lower()}" if ext else storage.suffix_of(source)
    return storage.join(output, f"{storage.stem_of(source)}{suffix}")


def _same_location(a: str, b: str) -> bool:
    if storage.is_uri(a) or storage.is_uri(b):
        return a.rstrip("/") == b.rstrip("/")
    from ..fileio import same_file

    return same_file(a, b) or Path(a).resolve() == Path(b).resolve()


def upscale_targets(files: list[str], output: str, batch: bool, ext: str | None) -> list[tuple[str, str]]:
    """(source, target) for every input; refuses a file output for a batch and an input as target."""
    if batch and storage.suffix_of(output) in WRITABLE_SUFFIXES and not storage.is_dir(output):
        raise InvalidParameterError(f"several inputs need an output folder, not the file name {output}")
    targets = [(source, _output_location(source, output, batch, ext)) for source in files]
    for source, target in targets:
        if _same_location(source, target):
            raise OutputExistsError(f"output {target} is the input {source}: refusing to overwrite an input")
    return targets


def fit_format(image: np.ndarray, suffix: str, name: str) -> np.ndarray:
    """Adapt a result to a format the user chose that cannot hold all of it (with a warning)."""
    if suffix in _EIGHT_BIT_ONLY and image.dtype != np.uint8:
        log.warning(
            "%s holds 8 bits only: writing %s as 8-bit (use .png or .tif to keep 16 bits)", suffix, name
        )
        image = np.rint(image.astype(np.float32) * (255.0 / np.iinfo(image.dtype).max)).astype(np.uint8)
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

    model: Any = None
    model_source: str | None = None
    run_options: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    load_options: Mapping[str, Any] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float | None = 0.0
    memory: int | None = None
    budget_tiles: bool = False
    """Run auto tiles inside ``memory`` (set for clusters, where ``memory`` is reserved)."""

    def resources(self) -> WorkerResources:
        return WorkerResources(cpus=self.cpus, gpus=self.gpus, memory=self.memory)

    def with_model(self, model: Any) -> UpscaleWorker:
        """This recipe with a loaded model, and the memory the engine estimates for it."""
        return replace(self, model=model, memory=request_memory(model, self.run_options))

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
        options = dict(self.run_options)
        if self.budget_tiles and self.memory and options.get("tile", "auto") == "auto":
            options.setdefault("memory_budget", self.memory)
        return _UpscaleRunner(run_upscale, model, options, self.overwrite)


@dataclass
class _UpscaleRunner:
    run: Callable[..., Any]
    model: Any
    options: dict[str, Any]
    overwrite: bool

    def __call__(
        self, unit: Unit, progress: Callable[[int, int], None] | None = None, attempt: int = 1
    ) -> str:
        source, target = unit.sources[0], unit.outputs[0]
        suffix = storage.suffix_of(target)
        if suffix not in WRITABLE_SUFFIXES:
            raise InvalidParameterError(
                f"unknown output format {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}"
            )
        if not self.overwrite and storage.exists(target):
            raise OutputExistsError(f"{target} exists; pass --force to replace it")
        image = storage.read_image_at(source)  # RGB(A) or gray, 8 or 16 bits, as stored
        result = self.run(self.model, image, progress=progress, **self.options)
        storage.write_image_at(
            target, fit_format(result.image, suffix, storage.name_of(target)), overwrite=self.overwrite
        )
        report = result.report
        log.info(
            "%s → %s: %dx%d → %dx%d, %d tiles of %d px, %s on %s, %.1fs",
            source,
            target,
            report.input_size[1],
            report.input_size[0],
            report.output_size[1],
            report.output_size[0],
            report.tiles,
            report.tile,
            report.precision,
            report.device,
            report.seconds,
        )
        return target


def request_memory(model: Any, run_options: Mapping[str, Any]) -> int | None:
    """Bytes a worker reserves: the engine's estimate for its largest window (None for
    whole-image runs, whose size depends on the image)."""
    from ..engine import estimate_tile_memory

    tile = run_options.get("tile", "auto")
    if tile in (None, 0):
        return None
    return estimate_tile_memory(
        model,
        REQUEST_TILE if tile == "auto" else int(tile),
        tile_pad=run_options.get("tile_pad"),
        precision=run_options.get("precision", "auto"),
        device=run_options.get("device"),
        tta=bool(run_options.get("tta", False)),
    )


def plan_upscale_job(
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    model: Any = None,
    model_source: str | None = None,
    ext: str | None = None,
    overwrite: bool = False,
    resume: bool = False,
    max_retries: int = DEFAULT_MAX_RETRIES,
    load_options: Mapping[str, Any] | None = None,
    **run_options: Any,
) -> tuple[Job, bool]:
    """A job upscaling ``inputs`` (files, folders; paths or URIs) into ``output``; returns it
    and whether it is a batch (a folder or several inputs: a file output is refused).

    ``model``: a loaded model (it also gives the memory estimate); ``model_source``: its zoo
    name or path, so that cluster workers load it themselves. ``run_options`` are
    :func:`run_upscale`'s (outscale, width, height, tile, tile_pad, precision, alpha, tta,
    device, threads). Units are keyed by their input."""
    if model is None and model_source is None:
        raise InvalidParameterError(
            "plan_upscale_job needs model= (loaded) and/or model_source= (name or path)"
        )
    files, batch = collect_image_inputs(inputs)
    targets = upscale_targets(files, str(output), batch, ext)
    units = [Unit(source, "image", (source,), (target,)) for source, target in targets]
    device = str(run_options.get("device") or "")
    worker = UpscaleWorker(
        model_source=model_source,
        run_options=dict(run_options),
        overwrite=overwrite,
        load_options=dict(load_options or {}),
        cpus=float(run_options.get("threads") or 1),
        gpus=1.0 if device.startswith("cuda") else (0.0 if device else None),
    )
    if model is not None:
        worker = worker.with_model(model)
    return Job(units, worker, resume=resume, max_retries=max_retries), batch
