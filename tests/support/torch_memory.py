"""Peak bytes held by PyTorch's CPU allocator during a call, counted from the allocator's own
events (the profiler's ``profile_memory``), not sampled: every allocation and free is seen, in
order, so the peak is exact and independent of timing or of what the rest of the process does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["torch_peak_bytes"]


def torch_peak_bytes(call: Callable[[], T]) -> tuple[T, int, int]:
    """``call()``'s result, the peak of tensor bytes allocated (net of frees) while it ran,
    and the bytes still held when it returned (what the caller keeps).

    Bytes alive before the call are not counted.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = call()
    events: list[Any] = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]  # type: ignore[union-attr]
    events.sort(key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        if event.device_type().name != "CPU":
            continue
        current += event.nbytes()
        peak = max(peak, current)
    return result, peak, current
