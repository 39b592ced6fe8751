"""Real-ESRGAN's training pair pool, on sample numbers instead of tensors.

Real-ESRGAN degrades a batch at a time, then swaps it through a queue of 180 samples so that
one batch mixes samples from many earlier batches. Here every sample is a pure function of its
number (see ``data``), so the pool can hold numbers: the same mixing, a few hundred integers of
state instead of hundreds of megabytes of images, and a checkpoint can store it exactly.

While the pool fills, each batch is used as it comes and also stored; once full, the pool is
permuted (a seeded ``torch.Generator``), its first ``batch`` entries are used and the new
samples take their places — Real-ESRGAN's ``_dequeue_and_enqueue``.

The batch sampler runs in the main process ahead of training (the DataLoader prefetches), so it
keeps a snapshot of its state before each batch it hands out; a checkpoint after iteration
``n`` stores the snapshot taken before batch ``n``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["PairPoolSampler"]


class PairPoolSampler:
    """Yields lists of sample numbers, one per iteration, from ``start_iteration`` on."""

    def __init__(self, batch_size: int, pool_size: int, seed: int) -> None:
        self.batch_size, self.pool_size = batch_size, pool_size
        self.generator = torch.Generator().manual_seed(seed)
        self.pool: list[int] = []
        self.next_sample = 0
        self.iteration = 0
        self._snapshots: dict[int, dict[str, Any]] = {}

    def state(self) -> dict[str, Any]:
        """JSON-ready state (the generator's bytes as a list of ints)."""
        return {
            "iteration": self.iteration,
            "next_sample": self.next_sample,
            "pool": list(self.pool),
            "generator": self.generator.get_state().tolist(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.next_sample = int(state["next_sample"])
        self.pool = [int(v) for v in state["pool"]]
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self._snapshots.clear()

    def state_before(self, iteration: int) -> dict[str, Any]:
        """The state from which batch ``iteration`` is drawn (for a checkpoint after ``iteration`` steps)."""
        if iteration == self.iteration:
            return self.state()
        try:
            return json.loads(json.dumps(self._snapshots[iteration]))
        except KeyError:
            raise RuntimeError(
                f"no sampler snapshot for iteration {iteration} (have {sorted(self._snapshots)})"
            ) from None

    def forget_before(self, iteration: int) -> None:
        for key in [k for k in self._snapshots if k < iteration]:
            del self._snapshots[key]

    def next_batch(self) -> list[int]:
        self._snapshots[self.iteration] = self.state()
        fresh = list(range(self.next_sample, self.next_sample + self.batch_size))
        self.next_sample += self.batch_size
        self.iteration += 1
        if self.pool_size == 0:
            return fresh
        if len(self.pool) < self.pool_size:
            self.pool.extend(fresh)
            return fresh
        order = torch.randperm(self.pool_size, generator=self.generator).tolist()
        self.pool = [self.pool[i] for i in order]
        out = self.pool[: self.batch_size]
        self.pool[: self.batch_size] = fresh
        return out

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            yield self.next_batch()
