"""Many images of one size through one model: decide once, run per image.

``run_upscale`` checks its options, plans (precision, tile, channels, output size) and makes a
private copy of the weights on every call; for a video that would repeat the weight
conversion per frame. ``prepare_frame_upscaler`` runs :func:`check_options` and
:func:`plan_job` once for a frame size and returns a callable that upscales one image at a time
with that plan and its prepared network. The results equal ``run_upscale`` with the same
options on each image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import InvalidImageError, InvalidParameterError
from ..options import UpscaleOptions
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
    cancel: Callable[[], bool] | None = None
    images: int = 0
    seconds: float = 0.0
    _computed: int = field(default=0, repr=False)

    @property
    def options(self) -> UpscaleOptions:
        return self.job.checked.options

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
        record, frames = read_images(image, bgr=self.options.bgr)
        tracker = Progress(total=self.job.plan.count, cancel=self.cancel)
        threads = self.options.threads
        previous = torch.get_num_threads()
        try:
            if threads is not None:
                torch.set_num_threads(threads)
            with torch.inference_mode():
                out = _run_image(self.job, next(frames), None, tracker, 1)
                self._computed += self.job.plan.computed_pixels()
                result = write_image(out, record)
        finally:
            if threads is not None:
                torch.set_num_threads(previous)
        self.images += 1
        self.seconds += time.perf_counter() - started
        return result

    def report(self) -> UpscaleReport:
        job = self.job
        checked, channels = job.checked, job.channels
        tta = checked.options.tta
        macs = _macs_per_pixel(checked.facts) * self._computed * channels.batch * (8 if tta else 1)
        return UpscaleReport(
            tile=0 if job.plan.count == 1 else int(job.tile or max(job.plan.window)),
            tile_pad=checked.pad,
            tiles=job.plan.count * self.images,
            precision=job.network.precision,  # fp32 after an auto fall-back
            device=str(checked.device),
            seconds=self.seconds,
            input_size=(job.record.height, job.record.width),
            output_size=job.out_size,
            macs=int(macs),
            peak_memory_bytes=None,
            fp32_fallbacks=job.network.fp32_fallbacks,
            images=self.images,
            window=job.plan.window,
            blend=job.plan.blend,
            border=checked.border,
            tta=tta,
        )


def prepare_frame_upscaler(
    model: Any,
    height: int,
    width: int,
    *,
    channels: int = 3,
    dtype: Any = np.uint8,
    out_width: int | None = None,
    out_height: int | None = None,
    options: UpscaleOptions | None = None,
    cancel: Callable[[], bool] | None = None,
    **option_fields: Any,
) -> FrameUpscaler:
    """A :class:`FrameUpscaler` for ``height``×``width``×``channels`` images of ``dtype``.

    The options are :class:`UpscaleOptions`' fields (``outscale``, ``tile``, ``precision``,
    ...) given one by one or as ``options=``; the output size is ``out_width``/``out_height``
    here (``width``/``height`` name the input frames). ``tile="auto"`` is chosen for this frame
    size once.
    """
    _check_int(height, "height", minimum=1)
    _check_int(width, "width", minimum=1)
    if channels not in (1, 3, 4):
        raise InvalidParameterError(f"channels must be 1, 3 or 4; got {channels!r}")
    if options is not None and (option_fields or out_width is not None or out_height is not None):
        raise InvalidParameterError(
            "pass the options either as options=UpscaleOptions(...) or one by one, not both"
        )
    if options is None:
        options = UpscaleOptions(width=out_width, height=out_height, **option_fields)
    np_dtype = np.dtype(dtype)
    shape: tuple[int, ...] = (height, width, channels)
    job = plan_job(check_options(model, options), np.zeros(shape, dtype=np_dtype))
    return FrameUpscaler(job=job, input_shape=shape, input_dtype=np_dtype, cancel=cancel)
