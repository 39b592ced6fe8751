"""The Ray executor: the same units on a pool of Ray actors, locally or on a cluster.

Why actors and plain remote calls rather than Ray Data: every unit must end in its own outcome
(done / failed with the file and the error), be retried on its own, a bounded number of times,
and write its own output atomically under the name the single-machine run uses. Ray Data's
``map_batches`` with an actor pool would load the model once per actor too, but it reports
progress and failures per block, retries whole tasks, and writes through its own datasinks and
file names. Input listing and I/O go through pyarrow filesystems (``storage``) either way.

Each actor loads the model once (``WorkerSpec.start``) and runs one unit at a time; it reserves
the CPU threads, the GPU and the memory its spec asks for, so Ray places no more workers on a
node than fit. Actors are spread over nodes (``SPREAD``). A worker that dies (killed, out of
memory, node lost) is replaced and its unit retried; finished outputs are never touched again.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast

from ..errors import ClusterError, MissingDependencyError
from . import storage
from .units import Job, Unit, UnitOutcome, WorkerResources, WorkerSpec, is_retryable

__all__ = ["RayExecutor", "ClusterError", "import_ray", "RAY_INSTALL_HINT"]

log = logging.getLogger(__name__)

RAY_INSTALL_HINT = 'pip install "realesrgan-kit[ray]"'


def import_ray() -> Any:
    """``import ray``, or a typed error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            f"running on Ray needs the optional Ray support, which is not installed; install it with: {RAY_INSTALL_HINT}"
        ) from exc
    return ray


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class UnitActor:
    """One worker process: the started spec, and where it runs."""

    def __init__(self, spec: WorkerSpec, threads: int) -> None:
        import ray

        from ..engine.threads import set_process_threads

        # This process is the worker's own: its thread count is the CPUs it reserved.
        set_process_threads(max(1, threads))
        self.node = ray.get_runtime_context().get_node_id()
        self.pid = str(os.getpid())
        self.error: BaseException | None = None
        self.runner = None
        try:
            self.runner = spec.start()
        except Exception as exc:  # reported to the driver by ready(), which raises it there
            self.error = _picklable(exc)

    def ready(self) -> BaseException | None:
        return self.error

    def run(self, unit: Unit, attempt: int) -> dict[str, Any]:
        started = time.perf_counter()
        where = {"node": self.node, "worker": self.pid}
        try:
            assert self.runner is not None
            message = self.runner(unit, None, attempt)
        except Exception as exc:
            log.debug("%s failed", unit.key, exc_info=True)
            return dict(
                where,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                retryable=is_retryable(exc),
                seconds=time.perf_counter() - started,
            )
        return dict(where, status="done", message=message, seconds=time.perf_counter() - started)


class RayExecutor:
    """Run a job's units on Ray.

    ``address``: None starts a local Ray with this machine's CPUs (and GPUs) and stops it
    afterwards; ``"auto"`` or ``"HOST:PORT"`` / ``"ray://HOST:PORT"`` joins a running cluster
    (every node needs realesrgan-kit installed, or a ``runtime_env`` in ``init_options``).
    When Ray is already initialised in this process, that session is used as it is.
    ``workers``: how many actors (default: as many as the cluster's CPUs, or GPUs, allow).
    ``num_cpus``, ``num_gpus``, ``object_store_memory``: for a local Ray only.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        object_store_memory: int | None = None,
        init_options: Mapping[str, Any] | None = None,
        start_timeout: float = 600.0,
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.object_store_memory = object_store_memory
        self.init_options = dict(init_options or {})
        self.start_timeout = start_timeout

    def _init(self, ray: Any) -> bool:
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {"logging_level": logging.WARNING, **self.init_options}
        if self.address:
            try:
                ray.init(address=self.address, **options)
            except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError...
                ray.shutdown()
                raise ClusterError(
                    f"could not join the Ray cluster at {self.address!r}: {exc}; check the address "
                    "(HOST:PORT of the head, ray://HOST:10001, or auto) and that this Ray version matches it"
                ) from exc
            return True
        options.update(
            address="local",  # a new local Ray, never a cluster someone else started here
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            object_store_memory=self.object_store_memory,
            include_dashboard=False,
        )
        for last_try in (False, True):
            try:
                ray.init(**options)
                break
            except Exception as exc:  # Ray waits a fixed time for its raylet; a busy machine can miss it
                ray.shutdown()
                if last_try:
                    raise ClusterError(f"could not start a local Ray: {exc}") from exc
                log.warning("starting a local Ray failed (%s); trying once more", exc)
        return True

    def run(self, job: Job, units: Iterable[Unit], report: Callable[[UnitOutcome], None]) -> None:
        ray = import_ray()
        started_here = self._init(ray)
        try:
            _Pool(ray, job, self, report).run(list(units))
        finally:
            if started_here:
                ray.shutdown()


class _Pool:
    """The driver's loop: one unit in flight per actor, results as they come."""

    def __init__(self, ray: Any, job: Job, executor: RayExecutor, report: Callable[[UnitOutcome], None]):
        self.ray = ray
        self.job = job
        self.report = report
        spec = job.worker
        for_cluster = getattr(spec, "for_cluster", None)
        self.spec = cast(WorkerSpec, for_cluster() if callable(for_cluster) else spec)
        self.resources = self._resources(self.spec.resources())
        self.size = executor.workers or self._capacity()
        self.start_timeout = executor.start_timeout
        self.actor_class = ray.remote(UnitActor)

    def _resources(self, wanted: WorkerResources) -> WorkerResources:
        gpus_in_cluster = self.ray.cluster_resources().get("GPU", 0)
        if wanted.gpus is None:
            return replace(wanted, gpus=1.0 if gpus_in_cluster else 0.0)
        if wanted.gpus and not gpus_in_cluster:
            raise ClusterError(
                "the job asks for a GPU per worker, but the Ray cluster has none; "
                "run on the CPU (--device cpu) or join a cluster with GPUs"
            )
        return wanted

    def _capacity(self) -> int:
        total = self.ray.cluster_resources()
        res = self.resources
        if res.gpus:
            return max(1, int(total.get("GPU", 0) // res.gpus))
        return max(1, int(total.get("CPU", 1) // max(res.cpus, 1e-3)))

    def _new_actor(self) -> Any:
        res = self.resources
        options: dict[str, Any] = {
            "num_cpus": res.cpus,
            "num_gpus": res.gpus or 0,
            "scheduling_strategy": "SPREAD",
            "max_restarts": 0,
        }
        if res.memory and not res.gpus:  # on a GPU the whole device is the worker's reservation
            options["memory"] = int(res.memory)
        return self.actor_class.options(**options).remote(self.spec_ref, max(1, int(res.cpus)))

    def run(self, units: list[Unit]) -> None:
        ray = self.ray
        queue: deque[tuple[Unit, int]] = deque((u, 0) for u in units)
        size = min(self.size, len(units))
        if res_memory := self.resources.memory:
            log.info("%d Ray workers, each reserving %d MB", size, res_memory >> 20)
        self.spec_ref = ray.put(self.spec)  # one copy in the object store, whatever the pool size
        actors: list[Any] = []
        # ref → (slot, unit or None for a readiness reply, try number)
        in_flight: dict[Any, tuple[int, Unit | None, int]] = {}
        ever_ready = False
        start_deaths = 0
        begun = time.monotonic()

        def dispatch(slot: int) -> None:
            if queue:
                unit, tries = queue.popleft()
                in_flight[actors[slot].run.remote(unit, tries + 1)] = (slot, unit, tries + 1)

        def replace_actor(slot: int) -> None:
            ray.kill(actors[slot], no_restart=True)
            actors[slot] = self._new_actor()
            in_flight[actors[slot].ready.remote()] = (slot, None, 0)

        try:
            for slot in range(size):
                actors.append(self._new_actor())
                in_flight[actors[slot].ready.remote()] = (slot, None, 0)
            # until every unit has ended (an actor that never got resources holds no unit)
            while queue or any(unit is not None for _, unit, _ in in_flight.values()):
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=30.0)
                if not done:
                    if not ever_ready and time.monotonic() - begun > self.start_timeout:
                        raise ClusterError(
                            f"no Ray worker started within {self.start_timeout:.0f} s; the cluster "
                            f"may lack the resources one asks for ({self.resources})"
                        )
                    continue
                ref = done[0]
                slot, unit, tries = in_flight.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    if unit is None:
                        start_deaths += 1
                        if start_deaths > 2 * size + 2:
                            raise ClusterError(f"Ray workers keep dying before they start: {exc}") from exc
                        replace_actor(slot)
                        continue
                    self._worker_died(unit, tries, exc, queue)
                    replace_actor(slot)
                    continue
                if unit is None:
                    if result is not None:
                        raise result  # the spec could not start (e.g. the model was not found)
                    ever_ready = True
                    dispatch(slot)
                    continue
                self._finished(unit, tries, result, queue)
                dispatch(slot)
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)

    def _worker_died(self, unit: Unit, tries: int, exc: BaseException, queue: deque) -> None:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        for output in unit.outputs:
            storage.remove_stale_temporaries(output)  # what a killed writer left beside the target
        if tries <= self.job.max_retries:
            log.warning("the worker running %s died (%s); retrying", unit.key, first_line)
            queue.appendleft((unit, tries))
        else:
            self.report(
                UnitOutcome(
                    unit, "failed", tries, error=f"WorkerDied: its worker died {tries} times ({first_line})"
                )
            )

    def _finished(self, unit: Unit, tries: int, result: dict[str, Any], queue: deque) -> None:
        if result["status"] == "done":
            self.report(
                UnitOutcome(
                    unit,
                    "done",
                    tries,
                    message=result["message"],
                    node=result["node"],
                    worker=result["worker"],
                    seconds=result["seconds"],
                )
            )
            return
        if result["retryable"] and tries <= self.job.max_retries:
            log.warning("%s failed on try %d (%s); retrying", unit.key, tries, result["error"])
            queue.appendleft((unit, tries))
            return
        self.report(
            UnitOutcome(
                unit,
                "failed",
                tries,
                error=result["error"],
                node=result["node"],
                worker=result["worker"],
                seconds=result["seconds"],
            )
        )
