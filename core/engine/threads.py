"""PyTorch's CPU thread count for one call, safe when calls overlap on several threads.

``torch.set_num_threads`` is process-wide in effect: with PyTorch's OpenMP backend it sets the
calling thread's count *and* the stored default that every thread which has not set its own
picks up on its first parallel operation. Setting it per call and restoring "the previous
value" therefore races as soon as two calls overlap (the widget worker and a ComfyUI prompt in
one process): a thread that started while another call held 1 thread reads 1 as its
"previous" value and leaves 1 behind as the default for every new thread.

So calls that ask for a count hold one lock for their whole run (they are serialised, each runs
with exactly its count), and on the way out they restore both the calling thread's own count
and the process default, which is read (and written back) from a short-lived helper thread.
Calls with ``threads=None`` never take the lock and never touch the setting.

This module is the only place that sets the count: the engine's calls, the frame upscaler and
the video job use :func:`torch_threads`; a process the kit starts for itself (a Ray worker, the
fine-tuning command) sets its own count once with :func:`set_process_threads`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

__all__ = ["torch_threads", "process_default_threads", "set_process_threads"]

T = TypeVar("T")

_THREAD_COUNT_LOCK = threading.RLock()  # re-entrant: a progress callback may upscale again


def _in_fresh_thread(function: Callable[..., T], *args: object) -> T:
    box: list[T] = []
    helper = threading.Thread(target=lambda: box.append(function(*args)), name="realesrgan-kit-threads")
    helper.start()
    helper.join()
    return box[0]


def process_default_threads() -> int:
    """The thread count a thread that never set its own gets (PyTorch's stored default)."""
    return _in_fresh_thread(torch.get_num_threads)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``threads`` intra-op threads (None: leave the setting alone)."""
    if threads is None:
        yield
        return
    with _THREAD_COUNT_LOCK:
        own = torch.get_num_threads()
        default = process_default_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(own)
            if default != own:
                _in_fresh_thread(torch.set_num_threads, default)


def set_process_threads(threads: int) -> None:
    """Set the count for good, in a process the kit owns (a Ray worker, a command-line run):
    the calling thread's and the default every new thread picks up, under the same lock as
    :func:`torch_threads`, so no call running meanwhile restores a stale value over it."""
    with _THREAD_COUNT_LOCK:
        torch.set_num_threads(threads)
        if process_default_threads() != threads:
            _in_fresh_thread(torch.set_num_threads, threads)
