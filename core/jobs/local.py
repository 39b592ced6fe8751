"""The local executor: the units one after another in this process, with one started worker."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable

from .units import Job, Unit, UnitOutcome, UnitRunner, is_retryable

__all__ = ["LocalExecutor"]

log = logging.getLogger(__name__)

TileProgressFactory = Callable[[Unit], "Callable[..., None] | None"]
"""A unit → its progress callback (an image gets (done, total) tiles, a video its frames)."""


class LocalExecutor:
    """Run units in this process, in order. ``tile_progress(unit)`` may return a per-unit
    progress callback (the CLI's terminal bar); a ``KeyboardInterrupt`` stops the job at once
    (the unit being written leaves nothing at its target)."""

    name = "local"

    def __init__(self, tile_progress: TileProgressFactory | None = None) -> None:
        self.tile_progress = tile_progress

    def run(self, job: Job, units: Iterable[Unit], report: Callable[[UnitOutcome], None]) -> None:
        runner = job.worker.start()
        for unit in units:
            report(self._run_unit(runner, job, unit))

    def _run_unit(self, runner: UnitRunner, job: Job, unit: Unit) -> UnitOutcome:
        worker = str(os.getpid())
        attempts = 0
        while True:
            attempts += 1
            started = time.perf_counter()
            bar = self.tile_progress(unit) if self.tile_progress else None
            try:
                message = runner(unit, bar, attempts)
            except Exception as exc:
                retry = is_retryable(exc) and attempts <= job.max_retries
                if is_retryable(exc):  # unexpected: keep the traceback in the log
                    log.warning(
                        "%s failed on try %d%s",
                        unit.key,
                        attempts,
                        ", retrying" if retry else "",
                        exc_info=True,
                    )
                if retry:
                    continue
                return UnitOutcome(
                    unit,
                    "failed",
                    attempts,
                    error=f"{type(exc).__name__}: {exc}",
                    node="local",
                    worker=worker,
                    seconds=time.perf_counter() - started,
                    exception=exc,
                )
            finally:
                close = getattr(bar, "close", None)
                if close is not None:
                    close()
            return UnitOutcome(
                unit,
                "done",
                attempts,
                message=message,
                node="local",
                worker=worker,
                seconds=time.perf_counter() - started,
            )
