"""The job model: a list of units, each with its outputs, run by any executor.

A unit is one image, one video chunk or one shard of a dataset. Its ``outputs`` are written
atomically (they appear whole or not at all), so "every output exists" means "finished": that
is the resume rule, and it needs no separate marker file. A unit that fails is retried a
bounded number of times when the failure may be transient (a worker died, memory ran out);
a typed input error (a broken file, an existing output) is the same on every try, so it is
reported at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import RealESRGANKitError
from . import storage

__all__ = [
    "UNIT_KINDS",
    "Unit",
    "UnitOutcome",
    "WorkerResources",
    "WorkerSpec",
    "UnitRunner",
    "Job",
    "Assembly",
    "JobProgress",
    "JobSummary",
    "is_retryable",
    "DEFAULT_MAX_RETRIES",
]

log = logging.getLogger(__name__)

UNIT_KINDS = ("image", "video", "video_chunk", "dataset_shard")
UnitKind = Literal["image", "video", "video_chunk", "dataset_shard"]
DEFAULT_MAX_RETRIES = 2
"""Retries after the first try for transient failures (so at most three tries per unit)."""


@dataclass(frozen=True)
class Unit:
    """One piece of work. ``key`` names it in progress and failures (the input file, or the
    clip and chunk); ``sources`` are read, ``outputs`` written (paths or URIs);
    ``payload`` carries what the kind needs beyond that (a chunk's frame range, say).
    Kinds: ``image``; ``video`` (a whole clip through the streaming pipeline, on one worker);
    ``video_chunk`` (one chunk of a clip, assembled on the driver when all are done);
    ``dataset_shard`` (files of a dataset)."""

    key: str
    kind: UnitKind
    sources: tuple[str, ...]
    outputs: tuple[str, ...]
    payload: Any = None

    def finished(self) -> bool:
        """True when every output exists (outputs are atomic, so existing means complete)."""
        return bool(self.outputs) and all(storage.exists(o) for o in self.outputs)


@dataclass(frozen=True)
class WorkerResources:
    """What one worker holds while it runs units: CPU threads, GPUs and bytes of memory
    (the engine's estimate for its largest window, or None when unknown). ``gpus=None``: one
    GPU per worker where the cluster has GPUs, else none."""

    cpus: float = 1.0
    gpus: float | None = 0.0
    memory: int | None = None


class UnitRunner(Protocol):
    """A started worker: runs one unit (``attempt`` counts from 1), returns what it wrote."""

    def __call__(
        self, unit: Unit, progress: Callable[[int, int], None] | None = None, attempt: int = 1
    ) -> str: ...


class WorkerSpec(Protocol):
    """A picklable recipe for a worker. ``start`` runs once per worker (it loads the model), so
    a worker runs many units with one copy of the model."""

    def resources(self) -> WorkerResources: ...

    def start(self) -> UnitRunner: ...


def is_retryable(error: BaseException) -> bool:
    """Typed input errors repeat on every try; anything else (a dead worker, memory, I/O) may not.
    An error may say for itself (a shard whose samples failed for different reasons)."""
    own = getattr(error, "retryable", None)
    if isinstance(own, bool):
        return own
    return not isinstance(error, RealESRGANKitError)


@dataclass
class UnitOutcome:
    """How a unit ended: ``done``, ``skipped`` (finished by an earlier run) or ``failed``.

    ``error`` is ``"Type: message"``; ``exception`` is the exception itself, when the unit ran
    in this process; ``node`` and ``worker`` say where it ran (Ray node id, process id)."""

    unit: Unit
    status: Literal["done", "skipped", "failed"]
    attempts: int = 0
    message: str = ""
    error: str | None = None
    node: str | None = None
    worker: str | None = None
    seconds: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Assembly:
    """A step the driver runs once every unit in ``parts`` has finished (done or skipped):
    e.g. writing a clip from its chunks. ``unit`` stands for its result in the summary;
    ``action()`` does the work and returns what it wrote."""

    unit: Unit
    parts: tuple[str, ...]
    action: Callable[[], str]


@dataclass
class Job:
    """Units plus the worker that runs them. ``resume``: skip units whose outputs all exist.
    ``max_retries``: extra tries for a transient failure. ``rejected``: inputs refused while
    planning (reported as failed, the others still run); ``assemblies``: driver-side steps
    after their units."""

    units: Sequence[Unit]
    worker: WorkerSpec
    resume: bool = False
    max_retries: int = DEFAULT_MAX_RETRIES
    rejected: Sequence[tuple[Unit, BaseException]] = ()
    assemblies: Sequence[Assembly] = ()

    def __post_init__(self) -> None:
        keys = Counter(
            [u.key for u in self.units]
            + [u.key for u, _ in self.rejected]
            + [a.unit.key for a in self.assemblies]
        )
        twice = [k for k, n in keys.items() if n > 1]
        if twice:
            raise ValueError(f"unit keys must be unique within a job; repeated: {twice[:3]}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be ≥ 0, got {self.max_retries}")


@dataclass
class JobProgress:
    """Driver-side counts: units done / total, throughput, ETA. Units skipped by ``resume`` are
    counted but not in the throughput (they took no work)."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    first_worked: float | None = None
    """When the first unit this run worked on ended: the rate counts from there, so the time
    workers take to start (and load the model) does not stretch the ETA."""

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def throughput(self) -> float:
        """Units per second over the units this run worked on (done or failed), counted from the
        end of the first one (over the whole run while there is only one)."""
        worked = self.done + self.failed
        if worked >= 2 and self.first_worked is not None:
            span = time.monotonic() - self.first_worked
            return (worked - 1) / span if span > 0 else 0.0
        return worked / self.elapsed if worked and self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds to go at the current throughput (None before the first unit ends)."""
        rate = self.throughput
        return (self.total - self.finished) / rate if rate > 0 else None

    def count(self, outcome: UnitOutcome) -> None:
        if outcome.status != "skipped" and self.first_worked is None:
            self.first_worked = time.monotonic()
        if outcome.status == "done":
            self.done += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1

    def line(self) -> str:
        eta = self.eta
        return (
            f"{self.finished}/{self.total} units ({self.done} done, {self.skipped} skipped, "
            f"{self.failed} failed), {self.throughput:.2f} units/s, "
            + (f"ETA {eta:.0f} s" if eta is not None else "ETA unknown")
        )


@dataclass
class JobSummary:
    """The end of a job: every outcome, in the order of the job's units."""

    outcomes: list[UnitOutcome]
    seconds: float

    def _with(self, status: str) -> list[UnitOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def done(self) -> list[UnitOutcome]:
        return self._with("done")

    @property
    def skipped(self) -> list[UnitOutcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[UnitOutcome]:
        return self._with("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def nodes(self) -> Counter[str]:
        """Units done per node (Ray node id; ``"local"`` for the local executor)."""
        return Counter(o.node or "local" for o in self.done)

    def line(self) -> str:
        return (
            f"{len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed "
            f"in {self.seconds:.1f} s"
        )


ProgressCallback = Callable[[UnitOutcome, JobProgress], None]
