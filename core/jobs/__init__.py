"""Jobs: lists of units (image | video chunk | dataset shard) run locally or on Ray.

    from realesrgan_kit.core.jobs import plan_upscale_job, run_job, RayExecutor
    job, _batch = plan_upscale_job(["photos/"], "out/", model=model, model_source="RealESRGAN_x4plus")
    summary = run_job(job)                                  # this process, one unit after another
    summary = run_job(job, RayExecutor())                   # a local Ray with this machine's CPUs
    summary = run_job(job, RayExecutor("HEAD:6379"))        # a running cluster
    summary.ok, summary.line(), summary.failed

Every unit writes its outputs atomically; with ``resume`` finished units are skipped. Ray is
optional (``pip install "realesrgan-kit[ray]"``) and imported only when a RayExecutor runs.
"""

import warnings
from typing import Any

from .degrade_job import DatasetShardError, DegradeOptions, DegradeWorker, plan_degrade_job
from .job_runner import Executor, run_job
from .local import LocalExecutor
from .ray_executor import RAY_INSTALL_HINT, ClusterError, RayExecutor, import_ray
from .units import (
    DEFAULT_MAX_RETRIES,
    UNIT_KINDS,
    Assembly,
    Job,
    JobProgress,
    JobSummary,
    Unit,
    UnitOutcome,
    UnitRunner,
    WorkerResources,
    WorkerSpec,
    is_retryable,
)
from .upscale_job import UpscaleWorker, fit_format, plan_upscale_job

__all__ = [
    "Unit",
    "UnitOutcome",
    "UNIT_KINDS",
    "Job",
    "Assembly",
    "JobProgress",
    "JobSummary",
    "WorkerResources",
    "WorkerSpec",
    "UnitRunner",
    "is_retryable",
    "DEFAULT_MAX_RETRIES",
    "run_job",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "ClusterError",
    "import_ray",
    "RAY_INSTALL_HINT",
    "plan_upscale_job",
    "UpscaleWorker",
    "fit_format",
    "plan_degrade_job",
    "DegradeOptions",
    "DegradeWorker",
    "DatasetShardError",
]


def __getattr__(name: str) -> Any:  # PEP 562: the old name of RAY_INSTALL_HINT, with a warning
    if name == "INSTALL_HINT":
        warnings.warn(
            "realesrgan_kit.core.jobs.INSTALL_HINT is deprecated; use RAY_INSTALL_HINT (the same text)",
            DeprecationWarning,
            stacklevel=2,
        )
        return RAY_INSTALL_HINT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
