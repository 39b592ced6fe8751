"""Many images of one size through one model: decide once, run per image.

``run_upscale`` builds its plan (precision, tile, channels, output size) and a private copy of
the weights on every call; for a video that would repeat the weight conversion per frame.
``prepare_frame_upscaler`` makes those decisions once for a frame size and returns a callable
that upscales one image at a time with the same prepared network. The results equal
``run_upscale`` with the same options on each image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import InvalidImageError, InvalidParameterError
from ..options import Tile, UpscaleOptions
from .api import UpscaleJob, UpscaleReport, _check_int, _macs_per_pixel, _run_image, check_options, plan_job
from .images import read_images, write_image
from .runner import Progress

__all__ = ["FrameUpscaler", "prepare_frame_upscaler"]


@dataclass
class FrameUpscaler:
    """Upscales numpy images of one shape and dtype with decisions made once.

    Call it with an H×W×C array (the shape and dtype it was prepared for); it returns the
    upscaled array in the same dtype. ``cancel`` is polled between tiles. ``report()``
    summarises the images run so far. Not thread-safe: use one per thread.
    """

    job: UpscaleJob
    input_shape: tuple[int, ...]
    input_dtype: np.dtype
    tta: bool
    cancel: Callable[[], bool] | None = None
    images: int = 0
    seconds: float = 0.0
    _computed: int = field(default=0, repr=False)

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of every result."""
        return self.job.out_size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.shape != self.input_shape or image.dtype != self.input_dtype:
            raise InvalidImageError(
                f"this upscaler was prepared for {self.input_shape} {self.input_dtype} images; got "
                f"{image.shape} {image.dtype}. Prepare one per frame size."
            )
        started = time.perf_counter()
        record, frames = read_images(image)
        tracker = Progress(total=self.job.plan.count, cancel=self.cancel)
        with torch.inference_mode():
            out = _run_image(self.job, next(frames), None, tracker, 1)
            self._computed += self.job.plan.computed_pixels()
            result = write_image(out, record)
        self.images += 1
        self.seconds += time.perf_counter() - started
        return result

    def report(self) -> UpscaleReport:
        job = self.job
        facts, channels = job.facts, job.channels
        macs = _macs_per_pixel(facts) * self._computed * channels.batch * (8 if self.tta else 1)
        return UpscaleReport(
            tile=0 if job.plan.count == 1 else int(job.tile or max(job.plan.window)),
            tile_pad=job.pad,
            tiles=job.plan.count * self.images,
            precision=job.network.precision,
            device=str(job.network.device),
            seconds=self.seconds,
            input_size=(job.record.height, job.record.width),
            output_size=job.out_size,
            macs=int(macs),
            peak_memory_bytes=None,
            fp32_fallbacks=job.network.fp32_fallbacks,
            images=self.images,
            window=job.plan.window,
            blend=job.plan.blend,
            border=job.border,
            tta=self.tta,
        )


def prepare_frame_upscaler(
    model: Any,
    height: int,
    width: int,
    *,
    channels: int = 3,
    dtype: Any = np.uint8,
    outscale: float | None = None,
    out_width: int | None = None,
    out_height: int | None = None,
    tile: Tile | None = "auto",
    tile_pad: int | None = None,
    precision: str = "auto",
    alpha: str = "model",
    tta: bool = False,
    device: Any = None,
    memory_budget: int | None = None,
    blend: int | None = None,
    border: int | None = None,
    cancel: Callable[[], bool] | None = None,
) -> FrameUpscaler:
    """A :class:`FrameUpscaler` for ``height``×``width``×``channels`` images of ``dtype``.

    The options mean what they mean for :func:`run_upscale` (``out_width``/``out_height`` are
    its ``width``/``height``). ``tile="auto"`` is chosen for this frame size once.
    """
    _check_int(height, "height", minimum=1)
    _check_int(width, "width", minimum=1)
    if channels not in (1, 3, 4):
        raise InvalidParameterError(f"channels must be 1, 3 or 4; got {channels!r}")
    np_dtype = np.dtype(dtype)
    shape: tuple[int, ...] = (height, width, channels)
    options = UpscaleOptions(
        outscale=outscale,
        width=out_width,
        height=out_height,
        tile=tile,
        tile_pad=tile_pad,
        precision=precision,
        alpha=alpha,
        tta=tta,
        device=device,
        memory_budget=memory_budget,
        blend=blend,
        border=border,
    )
    # the engine's own plan for one image of this shape: the same decisions run_upscale makes
    job = plan_job(check_options(model, options), np.zeros(shape, dtype=np_dtype))
    return FrameUpscaler(job=job, input_shape=shape, input_dtype=np_dtype, tta=tta, cancel=cancel)
