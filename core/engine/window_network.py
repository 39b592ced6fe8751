"""The network as the tile loop sees it: one window in, its upscaled output back.

Per call we build a private copy of the weights in the compute format (bf16/fp16/fp32,
channels-last, on the target device), so the caller's model is never modified and concurrent
calls never share mutable state. The copy is what makes the call fast: oneDNN's bf16
channels-last convolutions are several times faster than fp32 NCHW on CPUs with AVX-512-BF16.

An architecture's policy may give a faster or leaner forward with the same results (RRDBNet's
runs its upsampling tail in row stripes), and says whether the network likes channels-last.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .dtypes import DTYPES
from .modelinfo import ModelFacts
from .padding import reflect_pad

__all__ = ["prepare_network", "PreparedNetwork", "dihedral", "undo_dihedral"]

log = logging.getLogger(__name__)


def _converted_copy(
    module: nn.Module, device: torch.device, dtype: torch.dtype, channels_last: bool
) -> nn.Module:
    """A deep copy whose tensors are born in the target format (no full-precision detour)."""

    def convert(t: torch.Tensor) -> torch.Tensor:
        out = t.detach().to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
        if channels_last and out.dim() == 4:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    memo: dict[int, object] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(convert(p), requires_grad=False)
    for b in module.buffers():
        memo[id(b)] = convert(b)
    return copy.deepcopy(module, memo).eval()


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th of the 8 flips/rotations TTA averages (0 ≤ k < 8; 4..7 flip first)."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, (-2, -1)) if k % 4 else x


def undo_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral` (every backend undoes a TTA view the same way)."""
    if k % 4:
        x = torch.rot90(x, -(k % 4), (-2, -1))
    return x.flip(-1) if k >= 4 else x


@dataclass
class PreparedNetwork:
    """A per-call, ready-to-run network (never stored on the model); the torch backend's runner."""

    facts: ModelFacts
    precision: str
    device: torch.device
    tta: bool = False
    fp32_fallbacks: int = 0
    _forward: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    _fp32_forward: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)
    explain_failure: Callable[[torch.Tensor, Exception], Exception] | None = field(default=None, repr=False)
    """How a reduced-precision failure of a network from elsewhere becomes a typed error (the
    torch backend passes the precision probe's; injected so that this module, which the probe
    runs, does not import the probe back). None: errors are raised as they come."""

    @property
    def backend(self) -> str:
        return "torch"

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def channels_last(self) -> bool:
        """Channels-last where the architecture prefers it and the device has it (not MPS), unless
        the network was found to fail on channels-last tensors."""
        return (
            self.facts.policy.channels_last
            and self.device.type != "mps"
            and _architecture_key(self.facts.module) not in _CONTIGUOUS_ONLY
        )

    def _build(self, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
        module = self.facts.module
        same = module_dtype(module) == dtype and self.facts.device == self.device
        channels_last = self.channels_last
        if same and not channels_last:
            net = module
        else:
            net = _converted_copy(module, self.device, dtype, channels_last)
        fast = self.facts.policy.fast_forward
        return net if fast is None else fast(net)

    def _pad_to_requirements(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        facts = self.facts
        h, w = x.shape[-2:]
        m = facts.multiple_of
        th = max(facts.minimum, math.ceil(h / m) * m)
        tw = max(facts.minimum, math.ceil(w / m) * m)
        if facts.square:
            th = tw = max(th, tw)
        return reflect_pad(x, 0, th - h, 0, tw - w), h, w

    def _run(
        self, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dtype: torch.dtype
    ) -> torch.Tensor:
        x, h, w = self._pad_to_requirements(x)
        x = x.to(device=self.device, dtype=dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        s = self.facts.scale
        if not self.tta:
            return forward(x)[..., : h * s, : w * s]
        total: torch.Tensor | None = None
        for k in range(8):
            xi = dihedral(x, k)
            if self.channels_last:
                xi = xi.contiguous(memory_format=torch.channels_last)
            yi = undo_dihedral(forward(xi), k).float()
            total = yi if total is None else total.add_(yi)
        assert total is not None
        return total.div_(8)[..., : h * s, : w * s]

    def run_once(self, window: torch.Tensor) -> torch.Tensor:
        """One window in this network's precision, as is: no fp32 recompute of non-finite
        values (what a precision probe needs to see). Output on the compute device."""
        if self._forward is None:
            self._forward = self._build(self.dtype)
        try:
            return self._run(self._forward, window, self.dtype)
        except (RuntimeError, TypeError, ValueError) as exc:
            if not self._may_switch_layout(exc):
                raise
            return self._run_contiguous(window, exc)

    def _may_switch_layout(self, exc: Exception) -> bool:
        # Only networks from elsewhere (ours are tested in channels-last), never after OOM, and
        # in fp32 only: the precision probe runs such a network in fp32 before any reduced
        # format, so the layout is settled there and a dtype error is not retried.
        return (
            self.channels_last
            and self.facts.policy.probe_precision
            and self.precision == "fp32"
            and not isinstance(exc, torch.OutOfMemoryError)
        )

    def _run_contiguous(self, window: torch.Tensor, first_error: Exception) -> torch.Tensor:
        """Retry in the plain (NCHW) layout some networks' ``view`` calls need (IPT's); keep it
        for the architecture when that works, else raise the first error."""
        key = _architecture_key(self.facts.module)
        _CONTIGUOUS_ONLY.add(key)
        try:
            forward = self._build(self.dtype)
            out = self._run(forward, window, self.dtype)
        except Exception:
            _CONTIGUOUS_ONLY.discard(key)
            raise first_error from None
        log.info("%s fails on channels-last tensors (%s); running it contiguous", key[1], first_error)
        self._forward, self._fp32_forward = forward, None
        return out

    def __call__(self, window: torch.Tensor) -> torch.Tensor:
        """``window``: float32 [N, C, h, w] (any device) → float32 [N, C', h·s, w·s] on the CPU.

        A network from elsewhere that raises in reduced precision although its probe passed (a
        code path the probe window did not take, e.g. a mask rebuilt for another window size)
        raises :class:`PrecisionNotSupportedError`: ``auto`` then reruns the image in fp32."""
        try:
            out = self.run_once(window)
        except (RuntimeError, TypeError, ValueError) as exc:
            if (
                self.explain_failure is None
                or self.precision == "fp32"
                or not self.facts.policy.probe_precision
            ):
                raise
            from .runner import is_out_of_memory  # imported here: the runner imports the backends

            if is_out_of_memory(exc):
                raise
            raise self.explain_failure(window, exc) from exc
        if self.precision != "fp32" and not bool(torch.isfinite(out).all()):
            if self.fp32_fallbacks == 0:
                log.warning(
                    "%s produced non-finite values on a tile; recomputing such tiles in fp32", self.precision
                )
            self.fp32_fallbacks += 1
            if self._fp32_forward is None:
                self._fp32_forward = self._build(torch.float32)
            out = self._run(self._fp32_forward, window, torch.float32)
        return out.float().cpu() if out.device.type != "cpu" else out.float()


_CONTIGUOUS_ONLY: set[tuple[str, str]] = set()
"""Architectures (module, class) whose forward failed on channels-last tensors and worked on
contiguous ones, for the life of the process."""


def _architecture_key(module: nn.Module) -> tuple[str, str]:
    return type(module).__module__, type(module).__qualname__


def module_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.float32


def prepare_network(
    facts: ModelFacts,
    precision: str,
    device: torch.device,
    *,
    tta: bool = False,
    explain_failure: Callable[[torch.Tensor, Exception], Exception] | None = None,
) -> PreparedNetwork:
    """A lazily built network for one call (weights are copied on the first window)."""
    return PreparedNetwork(
        facts=facts, precision=precision, device=device, tta=tta, explain_failure=explain_failure
    )
