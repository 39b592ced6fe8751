"""The three autograd modes a caller can be in, as context managers, and the pairs worth testing.

ComfyUI runs every node inside ``torch.inference_mode()``, so weights a node builds are
inference tensors (no version counter, no in-place change outside inference mode, never saved
for backward). A notebook or script usually runs in plain mode or under ``torch.no_grad()``.
Weights are made in one mode and used in another, e.g. loaded by a node and run by a widget's
worker thread (the modes are thread-local: a new thread starts in plain mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

MODES: dict[str, Callable[[], AbstractContextManager[object]]] = {
    "plain": contextlib.nullcontext,
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}
"""Mode name → a context manager that enters it."""

MODE_PAIRS: tuple[tuple[str, str], ...] = (
    ("inference_mode", "inference_mode"),  # ComfyUI: a Load node's weights, run by another node
    ("inference_mode", "no_grad"),
    ("inference_mode", "plain"),  # a node's weights, run by a notebook or a worker thread
    ("plain", "inference_mode"),  # a script's weights, run inside a host's inference mode
)
"""(mode the weights are made in, mode they are run in): the combinations that have broken."""


def in_mode(name: str) -> AbstractContextManager[object]:
    """Enter the mode called ``name`` (a key of :data:`MODES`)."""
    return MODES[name]()


def pair_id(pair: tuple[str, str]) -> str:
    """A readable pytest id: ``made-inference_mode-run-plain``."""
    return f"made-{pair[0]}-run-{pair[1]}"


def has_inference_tensors(module: torch.nn.Module) -> bool:
    return any(t.is_inference() for t in [*module.parameters(), *module.buffers()])
