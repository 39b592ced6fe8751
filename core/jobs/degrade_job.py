"""Degradation jobs: HR images → degraded images with sidecars, or aligned HR/LR pairs.

A unit is a shard of the input files (one file per shard on the local executor, several on
Ray, where fewer, larger units keep the scheduling cost small). Every sample's randomness is
``derive_seed(seed, file name)``, so the same pair comes out whatever the sharding and the
number of workers, and each sidecar record replays its sample. A sample's last write is its
record (``<output>.json``, or ``pairs/records/<stem>.json``): the record existing means the
sample is complete, which is what ``resume`` checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidImageError, InvalidParameterError, RealESRGANKitError
from ..imagefile.arrays import WRITABLE_SUFFIXES
from . import storage
from .units import DEFAULT_MAX_RETRIES, Job, Unit, WorkerResources, is_retryable

__all__ = [
    "DegradeOptions",
    "DegradeWorker",
    "DatasetShardError",
    "collect_degrade_inputs",
    "degrade_targets",
    "plan_degrade_job",
]


class DatasetShardError(RealESRGANKitError):
    """Some samples of a shard failed; the others were written. ``retryable``: whether any of
    the failures may pass on another try."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.retryable))


@dataclass(frozen=True)
class DegradeOptions:
    """What every sample shares: the base seed, the degradation settings, and where pairs go."""

    seed: int = 0
    scale: float = 4.0
    preset: str = "realesrgan"
    enabled: Mapping[str, bool] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    pairs: str | None = None
    crop: int | None = None
    force: bool = False
    max_pixels: int | None = None
    """Refuse inputs with more pixels than this (header check); None: the readers' default."""


def collect_degrade_inputs(inputs: list[str]) -> tuple[list[str], bool]:
    """Input files and whether any came from a folder (an empty folder is an error)."""
    files: list[str] = []
    from_folder = False
    for item in inputs:
        item = str(item)
        if storage.is_dir(item):
            found = storage.list_files(item, WRITABLE_SUFFIXES)
            if not found:
                raise InvalidImageError(f"the folder {item} holds no images ({', '.join(WRITABLE_SUFFIXES)})")
            files += found
            from_folder = True
        elif storage.exists(item):
            files.append(item)
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    return files, from_folder


def degrade_targets(files: list[str], output: str | None, from_folder: bool) -> dict[str, str | None]:
    """Where each input's degraded image goes (None: pairs only)."""
    if output is None:
        return dict.fromkeys(files)
    looks_like_file = storage.suffix_of(output) in WRITABLE_SUFFIXES and not storage.is_dir(output)
    if len(files) == 1 and not from_folder and looks_like_file:
        return {files[0]: output}
    if looks_like_file:
        raise InvalidParameterError(
            f"-o {output} looks like a file, but there are {len(files)} inputs; give a folder"
        )
    targets: dict[str, str | None] = {f: storage.join(output, f"{storage.stem_of(f)}.png") for f in files}
    seen: dict[str, str] = {}
    for src, dst in targets.items():
        assert dst is not None
        if dst in seen:
            raise InvalidParameterError(
                f"{seen[dst]} and {src} would both be written to {dst}; degrade them in separate runs"
            )
        seen[dst] = src
    return targets


def _sample_outputs(src: str, dst: str | None, pairs: str | None) -> tuple[str, ...]:
    outputs: list[str] = []
    if dst is not None:
        outputs += [dst, dst + ".json"]
    if pairs is not None:
        outputs.append(storage.join(storage.join(pairs, "records"), f"{storage.stem_of(src)}.json"))
    return tuple(outputs)


@dataclass(frozen=True)
class DegradeWorker:
    """The recipe of a degradation worker (no model: ``start`` only binds the options)."""

    options: DegradeOptions
    inputs: tuple[str, ...] = ()
    """Every input of the job: no output may be written over one of them."""
    resume: bool = False
    cpus: float = 1.0

    def resources(self) -> WorkerResources:
        return WorkerResources(cpus=self.cpus, gpus=0.0, memory=None)

    def start(self) -> _DegradeRunner:
        return _DegradeRunner(self.options, self.inputs, self.resume)


@dataclass
class _DegradeRunner:
    options: DegradeOptions
    inputs: tuple[str, ...]
    resume: bool = False

    def __call__(
        self, unit: Unit, progress: Callable[[int, int], None] | None = None, attempt: int = 1
    ) -> str:
        samples: tuple[tuple[str, str | None], ...] = unit.payload
        # A retried shard keeps the samples it finished; a unit that runs again (a retry, or a
        # resumed job) replaces what an interrupted try of the same sample wrote.
        overwrite = self.options.force or attempt > 1 or self.resume
        if len(samples) == 1:
            return self._sample(*samples[0], overwrite=overwrite)
        written, failures, retryable = [], [], False
        for src, dst in samples:
            outputs = _sample_outputs(src, dst, self.options.pairs)
            if attempt > 1 and all(storage.exists(o) for o in outputs):
                written.append(f"{src} (kept)")
                continue
            try:
                written.append(f"{src} -> {self._sample(src, dst, overwrite=overwrite)}")
            except Exception as exc:
                failures.append(f"{src}: {type(exc).__name__}: {exc}")
                retryable = retryable or is_retryable(exc)
        if failures:
            raise DatasetShardError(
                f"{len(failures)} of {len(samples)} samples failed: " + "; ".join(failures), retryable
            )
        return "; ".join(written)

    def _refuse_inputs(self, location: str) -> None:
        if storage.is_uri(location):
            clash = location in self.inputs
        else:
            from ..fileio import same_file

            clash = any(same_file(location, src) for src in self.inputs if not storage.is_uri(src))
        if clash:
            raise InvalidParameterError(f"refusing to write {location}: it is one of the inputs")

    def _write_image(self, location: str, image: Any, overwrite: bool) -> None:
        self._refuse_inputs(location)
        storage.write_image_at(location, image, overwrite=overwrite)

    def _write_json(self, location: str, data: dict[str, Any], overwrite: bool) -> None:
        self._refuse_inputs(location)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        storage.write_bytes(location, text.encode("utf-8"), overwrite=overwrite)

    def _sample(self, src: str, dst: str | None, *, overwrite: bool) -> str:
        from ..degrade import degrade, derive_seed
        from ..degrade.pairs import aligned_crop_boxes, pair_scale
        from ..version import __version__

        opts = self.options
        image = storage.read_image_at(src, max_pixels=opts.max_pixels)
        name = storage.name_of(src)
        file_seed = derive_seed(opts.seed, name)
        result = degrade(
            image,
            seed=file_seed,
            scale=opts.scale,
            preset=opts.preset,
            enabled=dict(opts.enabled),
            overrides=dict(opts.overrides),
        )
        has_alpha = image.ndim == 3 and image.shape[2] == 4
        sidecar = {
            "tool": f"realesrgan-kit {__version__}",
            "input": name,
            "seed": opts.seed,
            "file_seed": file_seed,
            "scale": opts.scale,
            "preset": opts.preset,
            "overrides": dict(opts.overrides),
            "settings": dict(opts.settings),
            "alpha": "resized to the output size (area), not degraded" if has_alpha else None,
            "record": result.record.to_dict(),
        }
        written = []
        if dst is not None:
            self._write_image(dst, result.image, overwrite)
            self._write_json(dst + ".json", dict(sidecar, output=storage.name_of(dst)), overwrite)
            written.append(dst)
        if opts.pairs is not None:
            scale = pair_scale(opts.scale)
            boxes = aligned_crop_boxes(result.image.shape[0], result.image.shape[1], scale, opts.crop)
            stem = storage.stem_of(src)
            for n, (top, left, h, w) in enumerate(boxes):
                crop_name = f"{stem}_{n:03d}.png"
                self._write_image(
                    storage.join(storage.join(opts.pairs, "hr"), crop_name),
                    image[top * scale : (top + h) * scale, left * scale : (left + w) * scale],
                    overwrite,
                )
                self._write_image(
                    storage.join(storage.join(opts.pairs, "lr"), crop_name),
                    result.image[top : top + h, left : left + w],
                    overwrite,
                )
            crops = [
                {"name": f"{stem}_{n:03d}.png", "lr_box": list(b), "hr_box": [v * scale for v in b]}
                for n, b in enumerate(boxes)
            ]
            self._write_json(
                storage.join(storage.join(opts.pairs, "records"), f"{stem}.json"),
                dict(sidecar, crops=crops),
                overwrite,
            )
            written.append(f"{len(boxes)} pair(s) in {opts.pairs}")
        return ", ".join(written)


def plan_degrade_job(
    inputs: list[str],
    output: str | None,
    options: DegradeOptions,
    *,
    shard_size: int = 1,
    resume: bool = False,
    max_retries: int = DEFAULT_MAX_RETRIES,
) -> Job:
    """A job degrading ``inputs`` into ``output`` and/or ``options.pairs``, ``shard_size``
    files per unit (keyed by the shard's first file)."""
    if shard_size < 1:
        raise InvalidParameterError(f"shard size must be ≥ 1, got {shard_size}")
    files, from_folder = collect_degrade_inputs([str(i) for i in inputs])
    targets = degrade_targets(files, None if output is None else str(output), from_folder)
    samples = list(targets.items())
    units = []
    for start in range(0, len(samples), shard_size):
        shard = tuple(samples[start : start + shard_size])
        outputs = tuple(o for src, dst in shard for o in _sample_outputs(src, dst, options.pairs))
        sources = tuple(src for src, _ in shard)
        units.append(Unit(sources[0], "dataset_shard", sources, outputs, payload=shard))
    worker = DegradeWorker(options, tuple(files), resume=resume)
    return Job(units, worker, resume=resume, max_retries=max_retries)
