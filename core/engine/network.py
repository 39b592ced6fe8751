"""The network as the tile loop sees it: one window in, its upscaled output back.

Per call we build a private copy of the weights in the compute format (bf16/fp16/fp32,
channels-last, on the target device), so the caller's model is never modified and concurrent
calls never share mutable state. The copy is what makes the call fast: oneDNN's bf16
channels-last convolutions are several times faster than fp32 NCHW on CPUs with AVX-512-BF16.

RRDBNet gets a leaner forward: the body runs on the whole window, the ×4 tail (where 64
feature channels at 16× the pixels dominate memory) runs in row stripes with a two-pixel
halo, which gives the same numbers with a fraction of the memory (see ``_rrdb_forward``).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..archs.rrdbnet import RRDBNet
from .modelinfo import ModelFacts
from .padding import reflect_pad
from .precision import DTYPES

__all__ = ["prepare_network", "PreparedNetwork", "TAIL_STRIPE_BYTES"]

log = logging.getLogger(__name__)

TAIL_STRIPE_BYTES = 16 * 2**20
"""Target size of one RRDBNet tail stripe's largest activation: small enough to stay in the
allocator's heap (no fresh pages to fault in for every stripe) and in a CPU's L3."""

_TAIL_HALO = 2  # feature pixels; the tail's receptive field is 1.25 feature pixels


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


def _rrdb_tail(net: RRDBNet, feat: torch.Tensor) -> torch.Tensor:
    for index in range(1, net.num_upsample + 1):
        conv = getattr(net, f"conv_up{index}")
        feat = net.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
    return net.conv_last(net.lrelu(net.conv_hr(feat)))


def _rrdb_body(net: RRDBNet, feat: torch.Tensor) -> torch.Tensor:
    """``net.body(feat)`` with the same operations, concatenating into two reused buffers.

    Each dense block concatenates its growing input four times; writing those into two
    buffers allocated once per window (alternately, so a concatenation never overwrites what
    it reads) instead of ~280 fresh multi-megabyte tensors saves the page faults of fresh
    allocations, ~5 % of a first call on a CPU, at the peak memory of the plain forward.
    Residual scalings are done in place in the module's order: the results are bit-identical.
    """
    batch, channels, height, width = feat.shape
    grow = net.body[0].rdb1.conv1.out_channels if len(net.body) else 0
    channels_last = feat.is_contiguous(memory_format=torch.channels_last)
    storages = [
        torch.empty(batch * (channels + k * grow) * height * width, dtype=feat.dtype, device=feat.device)
        for k in (3, 4)
    ]

    def buffer(k: int) -> torch.Tensor:
        """The concatenation of ``k`` grown maps: in storage 0 for k = 1, 3, storage 1 for k = 2, 4."""
        c = channels + k * grow
        strides = (
            (c * height * width, 1, width * c, c)
            if channels_last
            else (c * height * width, height * width, width, 1)
        )
        return storages[(k + 1) % 2].as_strided((batch, c, height, width), strides)

    def dense(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        stacked = x
        for k, conv in enumerate((block.conv1, block.conv2, block.conv3, block.conv4), start=1):
            grown = block.lrelu(conv(stacked))
            stacked = torch.cat((stacked, grown), 1, out=buffer(k))
        return block.conv5(stacked).mul_(0.2).add_(x)

    out = feat
    for rrdb in net.body:
        out = dense(rrdb.rdb3, dense(rrdb.rdb2, dense(rrdb.rdb1, out))).mul_(0.2).add_(out)
    return out


def _rrdb_forward(net: RRDBNet, x: torch.Tensor) -> torch.Tensor:
    """RRDBNet.forward with reused dense buffers and the upsampling tail in row stripes.

    The tail's convolutions see at most 1.25 feature pixels around each output pixel, so a
    stripe computed with a 2-pixel halo equals the whole-window result; memory drops from two
    64-channel maps at 16× the window to the body's maps at 1×.
    """
    if net.unshuffle > 1:
        x = F.pixel_unshuffle(x, net.unshuffle)
    feat = net.conv_first(x)
    feat = net.conv_body(_rrdb_body(net, feat)).add_(feat)
    batch, channels, height, width = feat.shape
    factor = 2**net.num_upsample
    row_bytes = batch * channels * width * factor * factor * feat.element_size()
    stripe = max(4, TAIL_STRIPE_BYTES // max(1, row_bytes))
    if stripe >= height:
        return _rrdb_tail(net, feat)
    out: torch.Tensor | None = None
    for top in range(0, height, stripe):
        bottom = min(height, top + stripe)
        lo, hi = max(0, top - _TAIL_HALO), min(height, bottom + _TAIL_HALO)
        part = _rrdb_tail(net, feat[:, :, lo:hi])
        if out is None:
            out = torch.empty(
                (batch, part.shape[1], height * factor, width * factor), dtype=part.dtype, device=part.device
            ).contiguous(memory_format=torch.channels_last)
        out[:, :, top * factor : bottom * factor] = part[:, :, (top - lo) * factor : (bottom - lo) * factor]
    assert out is not None
    return out


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, (-2, -1)) if k % 4 else x


def _undo_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
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

    @property
    def backend(self) -> str:
        return "torch"

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    def _build(self, dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
        module = self.facts.module
        same = module_dtype(module) == dtype and self.facts.device == self.device
        channels_last = self.device.type != "mps"
        if same and not channels_last:
            net = module
        else:
            net = _converted_copy(module, self.device, dtype, channels_last)
        if isinstance(net, RRDBNet):
            return lambda x: _rrdb_forward(net, x)
        return net

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
        if self.device.type != "mps":
            x = x.contiguous(memory_format=torch.channels_last)
        s = self.facts.scale
        if not self.tta:
            return forward(x)[..., : h * s, : w * s]
        total: torch.Tensor | None = None
        for k in range(8):
            xi = _dihedral(x, k)
            if self.device.type != "mps":
                xi = xi.contiguous(memory_format=torch.channels_last)
            yi = _undo_dihedral(forward(xi), k).float()
            total = yi if total is None else total.add_(yi)
        assert total is not None
        return total.div_(8)[..., : h * s, : w * s]

    def __call__(self, window: torch.Tensor) -> torch.Tensor:
        """``window``: float32 [N, C, h, w] (any device) → float32 [N, C', h·s, w·s] on the CPU."""
        if self._forward is None:
            self._forward = self._build(self.dtype)
        out = self._run(self._forward, window, self.dtype)
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


def module_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.float32


def prepare_network(
    facts: ModelFacts, precision: str, device: torch.device, *, tta: bool = False
) -> PreparedNetwork:
    """A lazily built network for one call (weights are copied on the first window)."""
    return PreparedNetwork(facts=facts, precision=precision, device=device, tta=tta)
