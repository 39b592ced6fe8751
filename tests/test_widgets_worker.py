"""widgets.worker: one background job at a time, cancel by event, outcomes never swallowed.

Real threads, synchronised with Events and Futures (bounded waits, no sleeps).
"""

from __future__ import annotations

import logging
import threading

import pytest

from realesrgan_kit.core.errors import InvalidParameterError, OperationCancelledError
from realesrgan_kit.widgets.worker import InlineExecutor, JobOutcome, Worker

WAIT = 10  # seconds; a bound for waits that normally take microseconds


@pytest.fixture()
def worker():
    worker = Worker()
    yield worker
    worker.shutdown(wait=True)


def test_job_runs_on_another_thread_and_submit_returns_at_once(worker):
    release, started = threading.Event(), threading.Event()
    seen = {}

    def job(context):
        seen["thread"] = threading.get_ident()
        started.set()
        assert release.wait(WAIT)
        return 42

    finished = []
    future = worker.submit(job, on_finish=finished.append)
    assert started.wait(WAIT)
    assert not future.done() and worker.busy  # submit returned while the job is blocked
    with pytest.raises(InvalidParameterError, match="already running"):
        worker.submit(lambda context: None)
    release.set()
    outcome = future.result(timeout=WAIT)
    assert outcome.status == "done" and outcome.result == 42 and outcome.error is None
    assert finished == [outcome]
    assert seen["thread"] != threading.get_ident()
    assert not worker.busy


def test_cancel_sets_the_event_the_job_polls(worker):
    started = threading.Event()

    def job(context):
        started.set()
        assert context.cancel_event.wait(WAIT)
        assert context.cancelled()
        context.raise_if_cancelled()
        return "never"

    future = worker.submit(job)
    assert started.wait(WAIT)
    assert worker.cancel() is True
    outcome = future.result(timeout=WAIT)
    assert (outcome.status, outcome.result, outcome.error) == ("cancelled", None, None)
    assert worker.cancel() is False  # nothing left to cancel


def test_cancel_pressed_after_the_last_checkpoint_discards_the_result(worker):
    started = threading.Event()

    def job(context):
        started.set()
        assert context.cancel_event.wait(WAIT)
        return "complete, but the user asked to stop"

    future = worker.submit(job)
    assert started.wait(WAIT)
    worker.cancel()
    outcome = future.result(timeout=WAIT)
    assert outcome.status == "cancelled" and outcome.result is None


def test_a_failing_job_hands_its_exception_over(worker):
    error = ValueError("tile must be ≥ 16, got 3")
    finished: list[JobOutcome] = []

    def job(context):
        raise error

    outcome = worker.submit(job, on_finish=finished.append).result(timeout=WAIT)
    assert outcome.status == "failed" and outcome.error is error and finished == [outcome]


def test_engine_cancel_error_means_cancelled_not_failed():
    outcome = (
        Worker(InlineExecutor())
        .submit(lambda c: (_ for _ in ()).throw(OperationCancelledError("stop")))
        .result()
    )
    assert outcome.status == "cancelled"


def test_inline_executor_runs_in_the_caller_and_allows_the_next_job_from_on_finish():
    worker = Worker(InlineExecutor())
    threads, outcomes = [], []

    def first_done(outcome):
        outcomes.append(outcome)
        # The worker is released before on_finish, so a follow-up job may start here.
        outcomes.append(worker.submit(lambda c: threads.append(threading.get_ident()) or "second").result())

    worker.submit(lambda c: threads.append(threading.get_ident()) or "first", on_finish=first_done)
    assert [o.result for o in outcomes] == ["first", "second"]
    assert threads == [threading.get_ident()] * 2


@pytest.mark.parametrize(
    ("interval", "expected"), [(1e9, [(0, 5), (5, 5)]), (0.0, [(i, 5) for i in range(6)])]
)
def test_progress_is_throttled_but_first_and_last_always_arrive(interval, expected):
    seen = []

    def job(context):
        for done in range(6):
            context.progress(done, 5)

    Worker(InlineExecutor(), progress_interval=interval).submit(
        job, on_progress=lambda d, t: seen.append((d, t))
    )
    assert seen == expected


def test_a_bug_in_on_finish_is_logged_and_kept_on_the_future(caplog):
    def broken(outcome):
        raise RuntimeError("display code bug")

    with caplog.at_level(logging.ERROR, logger="realesrgan_kit.widgets.worker"):
        future = Worker(InlineExecutor()).submit(lambda c: 1, on_finish=broken)
    with pytest.raises(RuntimeError, match="display code bug"):
        future.result()
    assert "showing the result of a background job failed" in caplog.text
