"""``run_job``: skip finished units (resume), hand the rest to an executor, count outcomes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from .local import LocalExecutor
from .units import Assembly, Job, JobProgress, JobSummary, Unit, UnitOutcome

__all__ = ["Executor", "run_job"]

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs units of a job and calls ``report`` once per unit with its final outcome."""

    name: str

    def run(self, job: Job, units: Iterable[Unit], report: Callable[[UnitOutcome], None]) -> None: ...


def run_job(
    job: Job,
    executor: Executor | None = None,
    *,
    progress: Callable[[UnitOutcome, JobProgress], None] | None = None,
) -> JobSummary:
    """Run ``job`` on ``executor`` (default: this process, one unit after another).

    ``progress(outcome, counts)`` is called on this process after every unit, whatever the
    executor. With ``job.resume``, a unit whose outputs all exist is reported as skipped and
    not run. Failed units are in the summary, not raised: check ``summary.ok``.
    """
    executor = executor or LocalExecutor()
    started = time.monotonic()
    counts = JobProgress(total=len(job.units) + len(job.rejected) + len(job.assemblies))
    outcomes: dict[str, UnitOutcome] = {}

    def report(outcome: UnitOutcome) -> None:
        outcomes[outcome.unit.key] = outcome
        counts.count(outcome)
        if outcome.status == "failed":
            log.warning("%s failed after %d tries: %s", outcome.unit.key, outcome.attempts, outcome.error)
        else:
            log.debug("%s %s on %s: %s", outcome.unit.key, outcome.status, outcome.node, outcome.message)
        if progress is not None:
            progress(outcome, counts)

    for unit, error in job.rejected:
        report(UnitOutcome(unit, "failed", 0, error=f"{type(error).__name__}: {error}", exception=error))
    pending = []
    for unit in job.units:
        if job.resume and unit.finished():
            report(UnitOutcome(unit, "skipped", message="finished by an earlier run"))
        else:
            pending.append(unit)
    if pending:
        executor.run(job, pending, report)
    for assembly in job.assemblies:
        report(_assemble(assembly, outcomes))
    order = [u for u, _ in job.rejected] + list(job.units) + [a.unit for a in job.assemblies]
    summary = JobSummary([outcomes[u.key] for u in order if u.key in outcomes], time.monotonic() - started)
    log.info("job on %s: %s", executor.name, summary.line())
    return summary


def _assemble(assembly: Assembly, outcomes: dict[str, UnitOutcome]) -> UnitOutcome:
    """Run a driver-side step if all its parts finished; a failed part fails it."""
    parts = [outcomes.get(key) for key in assembly.parts]
    missing = [key for key, o in zip(assembly.parts, parts, strict=True) if o is None or o.status == "failed"]
    if missing:
        return UnitOutcome(
            assembly.unit,
            "failed",
            0,
            error=f"{len(missing)} of {len(parts)} parts failed (finished ones are kept for --resume): {missing[0]}",
        )
    started = time.perf_counter()
    try:
        message = assembly.action()
    except Exception as exc:  # reported under the step's name, like a unit's failure
        return UnitOutcome(
            assembly.unit, "failed", 1, error=f"{type(exc).__name__}: {exc}", node="driver", exception=exc
        )
    return UnitOutcome(
        assembly.unit, "done", 1, message=message, node="driver", seconds=time.perf_counter() - started
    )
