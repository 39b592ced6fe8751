"""Many images of one size through one model: decide once, run per image.

``run_upscale`` checks its options, plans (precision, tile, channels, output size) and makes a
private copy of the weights on every call; for a video that would repeat the weight
conversion per frame. ``prepare_frame_upscaler`` runs :func:`check_options` and
:func:`plan_upscale` once for a frame size and returns a callable that upscales one image at a
time with that plan and its prepared network, through the same steps as ``run_upscale``
(``run.py``: the thread count, the image run, the report). The results equal ``run_upscale``
with the same options on each image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError
from ..load.modellike import UpscaleModelLike
from ..options import UpscaleOptions, check_whole_number
from .image_tensors import read_images, to_caller_image
from .run import (
    RunTally,
    UpscaleJob,
    UpscaleReport,
    caller_threads,
    check_options,
    engine_context,
    plan_upscale,
    report_of,
    upscale_planned_image,
)
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
    tally: RunTally = field(default_factory=RunTally)

    @property
    def images(self) -> int:
        """Images upscaled so far."""
        return self.tally.images

    @property
    def seconds(self) -> float:
        """Seconds spent upscaling them."""
        return self.tally.seconds

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
        with engine_context(self.options):
            out = upscale_planned_image(self.job, next(frames), None, tracker, 1, self.tally)
            result = to_caller_image(out, record)
        self.tally.seconds += time.perf_counter() - started
        return result

    def report(self) -> UpscaleReport:
        """The images run so far, reported as ``run_upscale`` reports one call (no peak memory:
        the frames are not one block)."""
        with caller_threads(self.options):  # the cost probe may run the network once
            return report_of(self.job, self.tally)


def prepare_frame_upscaler(
    model: UpscaleModelLike,
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
    check_whole_number(height, "height", minimum=1)
    check_whole_number(width, "width", minimum=1)
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
    with caller_threads(options):  # planning may run probe forwards: they get the count too
        job = plan_upscale(check_options(model, options), np.zeros(shape, dtype=np_dtype))
    return FrameUpscaler(job=job, input_shape=shape, input_dtype=np_dtype, cancel=cancel)
