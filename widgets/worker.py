"""One background job at a time, with a cancel event and throttled progress.

A widget handler that blocks keeps the kernel from receiving the next message (the Cancel
click included), so handlers only *submit* work here and return. The job runs on a worker
thread; it gets a :class:`JobContext` whose ``cancelled`` is the engine's cancel hook and
whose ``progress`` is the engine's progress callback. When the job ends, ``on_finish`` is
called on the worker thread with a :class:`JobOutcome` (done, cancelled or failed, with the
exception: nothing is swallowed).

Tests and scripts pass :class:`InlineExecutor` to run jobs synchronously in the caller.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from ..core.errors import InvalidParameterError, OperationCancelledError

__all__ = ["InlineExecutor", "JobContext", "JobOutcome", "Worker"]

log = logging.getLogger(__name__)

T = TypeVar("T")
ProgressCallback = Callable[[int, int], None]


class InlineExecutor(concurrent.futures.Executor):
    """Runs each submitted call at once in the calling thread (for headless tests and scripts)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it to whoever asks; nothing is lost
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class JobOutcome(Generic[T]):
    """How a job ended. ``result`` only when ``status == "done"``; ``error`` only when failed."""

    status: Literal["done", "cancelled", "failed"]
    result: T | None
    error: BaseException | None
    seconds: float


class JobContext:
    """Handed to a job: its cancel hook and its progress callback."""

    def __init__(self, cancel_event: threading.Event, progress: ProgressCallback) -> None:
        self.cancel_event = cancel_event
        self.progress = progress

    def cancelled(self) -> bool:
        """The engine's ``cancel`` hook: true once Cancel was asked for."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """For jobs made of several engine calls: stop between them."""
        if self.cancel_event.is_set():
            raise OperationCancelledError("cancelled")


class _Throttle:
    """Forward progress at most every ``interval`` seconds (always the first and the last)."""

    def __init__(self, callback: ProgressCallback | None, interval: float) -> None:
        self.callback, self.interval, self.last = callback, interval, float("-inf")

    def __call__(self, done: int, total: int) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if done >= total or done == 0 or now - self.last >= self.interval:
            self.last = now
            self.callback(done, total)


class Worker:
    """Runs one job at a time on ``executor`` (default: one daemon-less worker thread)."""

    def __init__(
        self, executor: concurrent.futures.Executor | None = None, *, progress_interval: float = 0.05
    ) -> None:
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="realesrgan-kit-widget"
        )
        self._progress_interval = progress_interval
        self._lock = threading.Lock()
        self._cancel_event: threading.Event | None = None
        self._future: concurrent.futures.Future[Any] | None = None

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._cancel_event is not None

    @property
    def future(self) -> concurrent.futures.Future[Any] | None:
        """The last submitted job's future (its result is the :class:`JobOutcome`)."""
        return self._future

    def submit(
        self,
        job: Callable[[JobContext], T],
        *,
        on_progress: ProgressCallback | None = None,
        on_finish: Callable[[JobOutcome[T]], None] | None = None,
    ) -> concurrent.futures.Future[JobOutcome[T]]:
        """Start ``job(context)`` in the background; refuse while another job runs."""
        cancel_event = threading.Event()
        with self._lock:
            if self._cancel_event is not None:
                raise InvalidParameterError("a job is already running; wait for it or press Cancel first")
            self._cancel_event = cancel_event
        context = JobContext(cancel_event, _Throttle(on_progress, self._progress_interval))
        try:
            future = self._executor.submit(self._run, job, context, on_finish)
        except BaseException:
            self._release(cancel_event)
            raise
        self._future = future
        return future

    def cancel(self) -> bool:
        """Ask the running job to stop; true when there was one to ask."""
        with self._lock:
            event = self._cancel_event
        if event is None:
            return False
        event.set()
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Cancel what runs and release the thread."""
        self.cancel()
        self._executor.shutdown(wait=wait)

    def _release(self, cancel_event: threading.Event) -> None:
        with self._lock:
            if self._cancel_event is cancel_event:
                self._cancel_event = None

    def _run(
        self,
        job: Callable[[JobContext], T],
        context: JobContext,
        on_finish: Callable[[JobOutcome[T]], None] | None,
    ) -> JobOutcome[T]:
        start = time.perf_counter()
        try:
            result = job(context)
        except OperationCancelledError:
            outcome: JobOutcome[T] = JobOutcome("cancelled", None, None, time.perf_counter() - start)
        except Exception as exc:
            log.debug("background job failed", exc_info=True)
            outcome = JobOutcome("failed", None, exc, time.perf_counter() - start)
        else:
            # Cancel pressed after the last checkpoint: honour it; the user asked for no result.
            status = "cancelled" if context.cancelled() else "done"
            outcome = JobOutcome(
                status, result if status == "done" else None, None, time.perf_counter() - start
            )
        finally:
            self._release(context.cancel_event)  # before on_finish, so it may submit the next job
        if on_finish is not None:
            try:
                on_finish(outcome)
            except Exception:
                # A bug in the widget's own display code: nobody awaits this future in a
                # notebook, so log it loudly as well as leaving it on the future.
                log.exception("showing the result of a background job failed")
                raise
        return outcome
