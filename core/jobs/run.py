"""``run_job``: skip finished units (resume), hand the rest to an executor, count outcomes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from .local import LocalExecutor
from .units import Job, JobProgress, JobSummary, Unit, UnitOutcome

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
    counts = JobProgress(total=len(job.units))
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

    pending = []
    for unit in job.units:
        if job.resume and unit.finished():
            report(UnitOutcome(unit, "skipped", message="finished by an earlier run"))
        else:
            pending.append(unit)
    if pending:
        executor.run(job, pending, report)
    summary = JobSummary(
        [outcomes[u.key] for u in job.units if u.key in outcomes], time.monotonic() - started
    )
    log.info("job on %s: %s", executor.name, summary.line())
    return summary
