"""The tile loop for one image: pad, plan, run each window, write into the output buffer.

Each window's output is written straight into one preallocated float32 H×W×C buffer (its
owned part, or cross-faded with its neighbours), so memory grows with the tile, not with the
image. The cancel hook is polled before every window and progress reported after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import OperationCancelledError
from .backends.contract import WindowRunner
from .channels import ChannelPlan
from .padding import reflect_pad
from .tiling import TilePlan, axis_weights, plan_tiles

__all__ = ["Progress", "run_tiles", "padded_size", "is_out_of_memory"]

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """Tiles done and total over a whole call (a batch included); lives for one call only."""

    total: int
    callback: Callable[[int, int], None] | None = None
    cancel: Callable[[], bool] | None = None
    done: int = 0

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise OperationCancelledError(
                f"upscale cancelled after {self.done} of {self.total} tiles; nothing was returned"
            )

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


def padded_size(height: int, width: int, border: int, multiple: int) -> tuple[int, int]:
    """Image size after the reflected border and the round-up to the size multiple."""
    h, w = height + 2 * border, width + 2 * border
    return -(-h // multiple) * multiple, -(-w // multiple) * multiple


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "DefaultCPUAllocator" in text
    )


def make_plan(
    height: int, width: int, tile: int | None, pad: int, border: int, multiple: int, blend: int
) -> TilePlan:
    ph, pw = padded_size(height, width, border, multiple)
    return plan_tiles(ph, pw, tile, pad, multiple=multiple, blend=blend)


def run_tiles(
    network: WindowRunner,
    channels: ChannelPlan,
    net_input: torch.Tensor,
    output: torch.Tensor,
    plan: TilePlan,
    border: int,
    progress: Progress,
) -> None:
    """Fill ``output`` (float32 [H·s, W·s, C], zeroed when the plan blends) from ``net_input``.

    ``net_input``: [N, C, H, W] float32, the image as the network takes it.
    """
    height, width = net_input.shape[-2:]
    multiple = network.facts.multiple_of
    ph, pw = padded_size(height, width, border, multiple)
    padded = reflect_pad(net_input, border, ph - height - border, border, pw - width - border)
    scale = network.facts.scale
    img_lo_y, img_lo_x = border * scale, border * scale
    img_hi_y, img_hi_x = img_lo_y + height * scale, img_lo_x + width * scale
    written = channels.written_channels
    for ri, row in enumerate(plan.rows):
        y0, y1, wy = axis_weights(plan.rows, ri, plan.blend, scale)
        a_y, b_y = max(y0, img_lo_y), min(y1, img_hi_y)
        for ci, col in enumerate(plan.cols):
            progress.check_cancel()
            x0, x1, wx = axis_weights(plan.cols, ci, plan.blend, scale)
            a_x, b_x = max(x0, img_lo_x), min(x1, img_hi_x)
            if a_y < b_y and a_x < b_x:  # windows entirely inside the border own nothing
                window = padded[:, :, row.start : row.stop, col.start : col.stop]
                result = channels.network_output(network(window))
                part = result[
                    :,
                    a_y - row.start * scale : b_y - row.start * scale,
                    a_x - col.start * scale : b_x - col.start * scale,
                ].permute(1, 2, 0)
                target = output[a_y - img_lo_y : b_y - img_lo_y, a_x - img_lo_x : b_x - img_lo_x, :written]
                if wy is None and wx is None:
                    target.copy_(part)
                else:
                    wy_part = wy[a_y - y0 : b_y - y0] if wy is not None else torch.ones(b_y - a_y)
                    wx_part = wx[a_x - x0 : b_x - x0] if wx is not None else torch.ones(b_x - a_x)
                    target.add_(part * (wy_part[:, None, None] * wx_part[None, :, None]))
            progress.step()
